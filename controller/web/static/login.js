// The login form: POST /api/login, then the page. The cookie it sets is HttpOnly.
"use strict";
const form = document.getElementById("login");
const error = document.getElementById("login-error");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const password = document.getElementById("password").value;
  let answer;
  try {
    answer = await fetch("/api/login", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({password}),
    });
  } catch (e) {
    error.textContent = "The wallbox does not answer.";
    error.hidden = false;
    return;
  }
  if (answer.ok) {
    location.replace("/");
    return;
  }
  const body = await answer.json().catch(() => ({}));
  const wait = answer.headers.get("Retry-After");
  error.textContent = answer.status === 429
    ? `Too many wrong passwords: wait ${wait} s and try again.`
    : (answer.status === 401 ? "Wrong password." : (body.error || `Error ${answer.status}`));
  error.hidden = false;
});
