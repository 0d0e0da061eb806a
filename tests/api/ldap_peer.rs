//! A real directory for the LDAP tests: Debian's `slapd`, started per test in a temporary
//! directory with a generated tree and a generated CA, listening on `ldap://` (StartTLS
//! available) and `ldaps://` on free loopback ports. Killed when the test drops it.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;

pub const SUFFIX: &str = "dc=example,dc=org";
pub const PEOPLE: &str = "ou=people,dc=example,dc=org";
pub const SERVICE_DN: &str = "cn=bouncer,ou=services,dc=example,dc=org";
pub const SERVICE_PASSWORD: &str = "service-secret";
pub const ROOT_DN: &str = "cn=admin,dc=example,dc=org";
pub const ROOT_PASSWORD: &str = "root-secret";

/// The directory's users: (login, password).
pub const ALICE: (&str, &str) = ("alice@example.org", "alice-password");
/// An Active Directory-style entry: `sAMAccountName`, `userPrincipalName`, no `uid`, no `mail`.
pub const BOB: (&str, &str) = ("bob", "bob-password");
/// `uid` but no `mail`.
pub const CAROL: (&str, &str) = ("carol", "carol-password");

/// Two AD attributes, declared here (Debian's `msuser.schema` brings AD's whole user class).
const AD_SCHEMA: &str = "\
attributetype ( 1.3.6.1.4.1.55555.1.1 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch \
  SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.2 NAME 'userPrincipalName' EQUALITY caseIgnoreMatch \
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.55555.2.1 NAME 'adStyleAccount' SUP top AUXILIARY \
  MAY ( sAMAccountName $ userPrincipalName ) )
";

fn tree() -> String {
    format!(
        "\
dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: {PEOPLE}
objectClass: organizationalUnit
ou: people

dn: ou=services,{SUFFIX}
objectClass: organizationalUnit
ou: services

dn: {SERVICE_DN}
objectClass: person
cn: bouncer
sn: service
userPassword: {SERVICE_PASSWORD}

dn: uid=alice,{PEOPLE}
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
givenName: Alice
mail: {alice}
userPassword: {alice_pw}

dn: cn=Bob Builder,{PEOPLE}
objectClass: inetOrgPerson
objectClass: adStyleAccount
cn: Bob Builder
sn: Builder
givenName: Bob
sAMAccountName: bob
userPrincipalName: bob@corp.example
userPassword: {bob_pw}

dn: uid=carol,{PEOPLE}
objectClass: inetOrgPerson
uid: carol
cn: Carol
sn: Carol
givenName: Carol
userPassword: {carol_pw}

dn: uid=twin1,{PEOPLE}
objectClass: inetOrgPerson
uid: twin1
cn: Twin One
sn: Twin
mail: twins@example.org
userPassword: twin-password

dn: uid=twin2,{PEOPLE}
objectClass: inetOrgPerson
uid: twin2
cn: Twin Two
sn: Twin
mail: twins@example.org
userPassword: twin-password
",
        alice = ALICE.0,
        alice_pw = ALICE.1,
        bob_pw = BOB.1,
        carol_pw = CAROL.1,
    )
}

pub struct Slapd {
    /// `ldap://127.0.0.1:<port>` (StartTLS offered).
    pub ldap_url: String,
    /// `ldaps://127.0.0.1:<port>`.
    pub ldaps_url: String,
    /// PEM of the CA that signed the server's certificate.
    pub ca_path: PathBuf,
    /// PEM of a CA that signed nothing here.
    pub other_ca_path: PathBuf,
    dir: TempDir,
    child: Option<std::process::Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether this machine has slapd (CI installs it; elsewhere the tests skip, see `skip`).
pub fn available() -> bool {
    std::path::Path::new("/usr/sbin/slapd").exists()
}

/// A CA and a certificate it signs for 127.0.0.1 and localhost: (CA PEM, cert PEM, key PEM).
fn certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Bouncer test directory CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

impl Slapd {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let (ca, cert, key) = certificates();
        let (other_ca, _, _) = certificates();
        std::fs::write(path("ca.pem"), ca).unwrap();
        std::fs::write(path("other-ca.pem"), other_ca).unwrap();
        std::fs::write(path("server.pem"), cert).unwrap();
        std::fs::write(path("server.key"), key).unwrap();
        std::fs::write(path("ad.schema"), AD_SCHEMA).unwrap();
        std::fs::write(path("tree.ldif"), tree()).unwrap();
        std::fs::create_dir(path("db")).unwrap();
        let d = dir.path().display();
        let conf = format!(
            "\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include {d}/ad.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {d}/slapd.pid
TLSCACertificateFile {d}/ca.pem
TLSCertificateFile {d}/server.pem
TLSCertificateKeyFile {d}/server.key
database mdb
maxsize 10485760
suffix \"{SUFFIX}\"
rootdn \"{ROOT_DN}\"
rootpw {ROOT_PASSWORD}
directory {d}/db
access to attrs=userPassword by anonymous auth by self write by * none
access to * by * read
"
        );
        std::fs::write(path("slapd.conf"), conf).unwrap();
        let added = std::process::Command::new("/usr/sbin/slapadd")
            .arg("-f")
            .arg(path("slapd.conf"))
            .arg("-l")
            .arg(path("tree.ldif"))
            .output()
            .expect("slapadd runs");
        assert!(
            added.status.success(),
            "slapadd: {}",
            String::from_utf8_lossy(&added.stderr)
        );
        let (ldap_port, ldaps_port) = (free_port(), free_port());
        let ldap_url = format!("ldap://127.0.0.1:{ldap_port}");
        let ldaps_url = format!("ldaps://127.0.0.1:{ldaps_port}");
        let mut slapd = Self {
            ldap_url,
            ldaps_url,
            ca_path: path("ca.pem"),
            other_ca_path: path("other-ca.pem"),
            dir,
            child: None,
        };
        slapd.run(ldap_port, ldaps_port);
        slapd
    }

    fn run(&mut self, ldap_port: u16, ldaps_port: u16) {
        let conf = self.dir.path().join("slapd.conf");
        // `-d 0`: in the foreground, so the test owns the process.
        let child = std::process::Command::new("/usr/sbin/slapd")
            .arg("-f")
            .arg(&conf)
            .arg("-h")
            .arg(format!(
                "ldap://127.0.0.1:{ldap_port}/ ldaps://127.0.0.1:{ldaps_port}/"
            ))
            .args(["-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("slapd starts");
        self.child = Some(child);
        for port in [ldap_port, ldaps_port] {
            let up = (0..200).any(|_| {
                let ok = TcpStream::connect(("127.0.0.1", port)).is_ok();
                if !ok {
                    std::thread::sleep(Duration::from_millis(25));
                }
                ok
            });
            assert!(up, "slapd listens on {port}");
        }
    }

    /// Stops the directory (an outage).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Changes one attribute of an entry, as the directory's administrator.
    pub async fn replace(&self, dn: &str, attribute: &str, value: &str) {
        let (conn, mut ldap) = ldap3::LdapConnAsync::new(&self.ldap_url).await.unwrap();
        ldap3::drive!(conn);
        ldap.simple_bind(ROOT_DN, ROOT_PASSWORD)
            .await
            .unwrap()
            .success()
            .unwrap();
        let values = std::collections::HashSet::from([value]);
        ldap.modify(dn, vec![ldap3::Mod::Replace(attribute, values)])
            .await
            .unwrap()
            .success()
            .unwrap();
        ldap.unbind().await.unwrap();
    }

    /// The Bouncer variables of a directory reached at `url` with the service account.
    pub fn vars(&self, url: &str) -> Vec<(&'static str, String)> {
        vec![
            ("LDAP_URL", url.to_string()),
            ("LDAP_USER_SEARCH_BASE", PEOPLE.to_string()),
            ("LDAP_BIND_DN", SERVICE_DN.to_string()),
            ("LDAP_BIND_CREDENTIALS", SERVICE_PASSWORD.to_string()),
            ("LDAP_CA_CERT_PATH", self.ca_path.display().to_string()),
        ]
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}
