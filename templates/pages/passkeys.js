// Passkeys on the sign-in pages: runs the WebAuthn ceremonies for the forms marked
// data-passkey, then posts the form as usual (the server checks everything). Without this
// script, or without WebAuthn in the browser, the passkey forms stay hidden.
"use strict";
(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) {
      b64 += "=";
    }
    var raw = atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) {
      raw += String.fromCharCode(bytes[i]);
    }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return Object.assign({}, d, { id: toBytes(d.id) });
    });
  }

  function creationOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = toBytes(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: toBytes(pk.user.id) });
    pk.excludeCredentials = descriptors(pk.excludeCredentials);
    return { publicKey: pk };
  }

  function requestOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = toBytes(pk.challenge);
    pk.allowCredentials = descriptors(pk.allowCredentials);
    return { publicKey: pk };
  }

  function credentialJson(c) {
    var r = c.response;
    var response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) {
        response.userHandle = toB64url(r.userHandle);
      }
    }
    return JSON.stringify({ id: c.id, rawId: toB64url(c.rawId), type: c.type, response: response });
  }

  // The options: the account page's own endpoint takes the CSRF token as a form; the JSON
  // API's take JSON (the 2FA step sends its temp token).
  function fetchOptions(form, extra) {
    var url = form.getAttribute("data-options");
    var init = { method: "POST", credentials: "same-origin" };
    if (form.getAttribute("data-options-kind") === "form") {
      init.headers = { "Content-Type": "application/x-www-form-urlencoded" };
      init.body = new URLSearchParams({ csrf: form.elements.csrf.value }).toString();
    } else {
      var body = Object.assign({}, extra || {});
      if (form.elements.temp_token) {
        body.tempToken = form.elements.temp_token.value;
      }
      init.headers = { "Content-Type": "application/json" };
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (answer) {
      return answer.json().then(function (json) {
        if (!answer.ok) {
          throw new Error(json.message || "The passkey could not be used.");
        }
        return json;
      });
    });
  }

  function showError(form, message) {
    var box = form.querySelector(".passkey-error");
    if (box) {
      box.textContent = message;
      box.hidden = false;
    }
  }

  function finish(form, ceremony, credential) {
    form.elements.ceremony.value = ceremony;
    form.elements.credential.value = credentialJson(credential);
    form.submit();
  }

  var conditional = null;

  function run(form) {
    if (conditional) {
      conditional.abort();
      conditional = null;
    }
    var register = form.getAttribute("data-passkey") === "register";
    fetchOptions(form)
      .then(function (options) {
        var call = register
          ? navigator.credentials.create(creationOptions(options))
          : navigator.credentials.get(requestOptions(options));
        return call.then(function (credential) {
          finish(form, options.ceremonyId, credential);
        });
      })
      .catch(function (e) {
        showError(form, e && e.message ? e.message : String(e));
      });
  }

  // The browser's autofill offers passkeys in the email field (conditional UI).
  function offerInAutofill(form) {
    if (!PublicKeyCredential.isConditionalMediationAvailable) {
      return;
    }
    PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
      if (!available) {
        return;
      }
      fetchOptions(form, { conditional: true }).then(function (options) {
        conditional = new AbortController();
        var request = requestOptions(options);
        request.mediation = "conditional";
        request.signal = conditional.signal;
        return navigator.credentials.get(request).then(function (credential) {
          finish(form, options.ceremonyId, credential);
        });
      }).catch(function () {
        // Aborted for the button, or not offered: nothing to say.
      });
    });
  }

  document.querySelectorAll("form[data-passkey]").forEach(function (form) {
    form.hidden = false;
    form.addEventListener("submit", function (event) {
      if (!form.elements.credential.value) {
        event.preventDefault();
        run(form);
      }
    });
    if (form.getAttribute("data-passkey") === "sign-in") {
      offerInAutofill(form);
    }
  });
})();
