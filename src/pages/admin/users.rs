//! The users list: a search box, filters, sorting and pages by cursor; each row links to its
//! user. The rules (what a filter means, the cursor, the page size) are the use case's.

use askama::Template;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::Response;

use super::gate::{when, AdminRequest, Done, Frame, Section};
use crate::error::Error;
use crate::pages::layout::Chrome;
use crate::pages::text::{AdminText, ADMIN};
use crate::usecases::admin::{self, Order, UserQuery, UserSort, UserSummary};

/// The list's query as the browser sent it (kept as text: what the use case refuses is
/// shown back in the form with its message).
#[derive(Default, Clone)]
pub struct UsersQuery {
    pub search: String,
    pub role: String,
    pub provider: String,
    pub two_factor: String,
    pub banned: String,
    pub unverified: String,
    pub disabled: String,
    pub sort: String,
    pub order: String,
    pub cursor: String,
    /// The notice of the action that led here (`?done=deleted`).
    pub done: String,
    /// The cursors of the pages before this one (the first page's is empty), for "Previous".
    pub back: Vec<String>,
}

/// How many earlier pages "Previous" remembers: past that it restarts from the first page
/// rather than let the address grow.
const BACK_MAX: usize = 20;

impl UsersQuery {
    pub fn parse(raw: Option<&str>) -> Self {
        let mut q = Self::default();
        for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let value = value.trim().to_string();
            match key.as_ref() {
                "search" => q.search = value,
                "role" => q.role = value,
                "provider" => q.provider = value,
                "two_factor" => q.two_factor = value,
                "banned" => q.banned = value,
                "unverified" => q.unverified = value,
                "disabled" => q.disabled = value,
                "sort" => q.sort = value,
                "order" => q.order = value,
                "cursor" => q.cursor = value,
                "done" => q.done = value,
                "back" if q.back.len() < BACK_MAX => q.back.push(value),
                _ => {}
            }
        }
        q
    }

    /// The yes/no filters: field name, label, chosen value.
    pub fn flags(&self, a: &AdminText) -> Vec<(&'static str, &'static str, String)> {
        vec![
            ("two_factor", a.two_factor, self.two_factor.clone()),
            ("banned", a.banned, self.banned.clone()),
            ("unverified", a.unverified, self.unverified.clone()),
            ("disabled", a.disabled, self.disabled.clone()),
        ]
    }

    pub fn sorts(&self, a: &AdminText) -> Vec<(&'static str, &'static str)> {
        vec![
            ("", a.sort_created),
            ("email", a.sort_email),
            ("name", a.sort_name),
            ("username", a.sort_username),
        ]
    }

    /// This query's address at another cursor, with the trail of earlier pages.
    fn href(&self, root: &str, cursor: &str, back: &[String]) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("search", &self.search),
            ("role", &self.role),
            ("provider", &self.provider),
            ("two_factor", &self.two_factor),
            ("banned", &self.banned),
            ("unverified", &self.unverified),
            ("disabled", &self.disabled),
            ("sort", &self.sort),
            ("order", &self.order),
        ] {
            if !value.is_empty() {
                out.append_pair(key, value);
            }
        }
        if !cursor.is_empty() {
            out.append_pair("cursor", cursor);
        }
        for b in back {
            out.append_pair("back", b);
        }
        let query = out.finish();
        if query.is_empty() {
            root.to_string()
        } else {
            format!("{root}?{query}")
        }
    }

    /// "Next": the next cursor, this page's cursor added to the trail.
    pub fn next_href(&self, root: &str, next: &str) -> String {
        let mut back = self.back.clone();
        if back.len() >= BACK_MAX {
            back.remove(0);
        }
        back.push(self.cursor.clone());
        self.href(root, next, &back)
    }

    /// "Previous": the last cursor of the trail, if this is not the first page.
    pub fn prev_href(&self, root: &str) -> Option<String> {
        if self.cursor.is_empty() {
            return None;
        }
        let mut back = self.back.clone();
        let cursor = back.pop().unwrap_or_default();
        Some(self.href(root, &cursor, &back))
    }
}

/// One row of the list.
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub username: String,
    pub role: String,
    pub provider: String,
    pub flags: Vec<&'static str>,
    pub created: String,
}

#[derive(Template)]
#[template(path = "pages/admin/users.html")]
pub struct UsersPage {
    pub c: Chrome,
    pub f: Frame,
    pub q: UsersQuery,
    pub rows: Vec<UserRow>,
    pub next_href: Option<String>,
    pub prev_href: Option<String>,
}

/// `GET /ui/admin`.
pub async fn list(ar: AdminRequest, RawQuery(raw): RawQuery) -> Response {
    let q = UsersQuery::parse(raw.as_deref());
    let mut f = ar.frame(Section::Users);
    f.notice = Done::notice(Some(&q.done));
    let root = f.root.clone();
    let (rows, next, status) = match load(&ar, &q).await {
        Ok((rows, next)) => (rows, next, StatusCode::OK),
        Err(e) => {
            let (status, message) = ar.failure(e).await;
            f.error = Some(message);
            (Vec::new(), None, status)
        }
    };
    let page = UsersPage {
        c: ar.page.chrome(),
        next_href: next.map(|n| q.next_href(&root, &n)),
        prev_href: q.prev_href(&root),
        f,
        q,
        rows,
    };
    ar.page.render(status, &page)
}

/// A yes/no filter: empty is "any"; anything else but `true`/`false` is refused by name.
fn flag(name: &str, value: &str) -> Result<Option<bool>, Error> {
    match value {
        "" => Ok(None),
        "true" => Ok(Some(true)),
        "false" => Ok(Some(false)),
        _ => Err(Error::BadRequest(format!("{name}: must be true or false"))),
    }
}

fn nonempty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
}

/// The use case's query for the browser's.
fn user_query(q: &UsersQuery) -> Result<UserQuery, Error> {
    let sort = match q.sort.as_str() {
        "" => UserSort::default(),
        text => UserSort::parse(text).ok_or_else(|| {
            Error::BadRequest("sort: must be created_at, email, name or username".into())
        })?,
    };
    // Newest first unless asked otherwise: an admin looks for recent sign-ups first.
    let order = match q.order.as_str() {
        "" => Order::Desc,
        text => Order::parse(text)
            .ok_or_else(|| Error::BadRequest("order: must be asc or desc".into()))?,
    };
    Ok(UserQuery {
        search: nonempty(&q.search),
        role: nonempty(&q.role),
        provider: nonempty(&q.provider),
        two_factor: flag("two_factor", &q.two_factor)?,
        banned: flag("banned", &q.banned)?,
        unverified: flag("unverified", &q.unverified)?,
        disabled: flag("disabled", &q.disabled)?,
        sort,
        order,
        cursor: nonempty(&q.cursor),
        limit: None,
    })
}

/// A user's flags in a few words.
pub fn flags(u: &UserSummary) -> Vec<&'static str> {
    let mut out = Vec::new();
    if u.disabled_at.is_some() {
        out.push(ADMIN.disabled);
    }
    if u.banned_until.is_some() {
        out.push(ADMIN.banned);
    }
    if !u.email_verified {
        out.push(ADMIN.unverified);
    }
    if u.two_factor_enabled {
        out.push(ADMIN.two_factor);
    }
    out
}

/// The page of users the query asks for, and the next page's cursor.
async fn load(ar: &AdminRequest, q: &UsersQuery) -> Result<(Vec<UserRow>, Option<String>), Error> {
    let query = user_query(q)?;
    let page = admin::list_users(&ar.page.ctx, &ar.actor(), &query).await?;
    let rows = page
        .users
        .iter()
        .map(|u| UserRow {
            id: u.id.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
            username: u.username.clone(),
            role: u.role.clone(),
            provider: u.provider.clone(),
            flags: flags(u),
            created: when(Some(u.created_at)),
        })
        .collect();
    Ok((rows, page.next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_walks_back_the_trail_to_the_first_page() {
        let first = UsersQuery::parse(Some("search=ada&role=USER"));
        assert_eq!(first.prev_href("/ui/admin"), None);
        let second_href = first.next_href("/ui/admin", "c2");
        let second = UsersQuery::parse(second_href.split_once('?').map(|(_, q)| q));
        assert_eq!(second.cursor, "c2");
        assert_eq!(second.search, "ada");
        let third_href = second.next_href("/ui/admin", "c3");
        let third = UsersQuery::parse(third_href.split_once('?').map(|(_, q)| q));
        let back_to_second = third.prev_href("/ui/admin").unwrap();
        let again = UsersQuery::parse(back_to_second.split_once('?').map(|(_, q)| q));
        assert_eq!(again.cursor, "c2");
        assert_eq!(
            again.prev_href("/ui/admin").as_deref(),
            Some("/ui/admin?search=ada&role=USER")
        );
    }
}
