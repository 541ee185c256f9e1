// JSON over fetch with Django's CSRF token: what every page script needs to talk to the API.

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${response.status} ${url}`);
  return response.json();
}

export async function getAll(url) {
  // Follows the LimitOffset pagination of list endpoints.
  const out = [];
  let next = url;
  while (next) {
    const page = await getJSON(next);
    if (Array.isArray(page)) return page;
    out.push(...page.results);
    next = page.next;
  }
  return out;
}

export async function send(method, url, body) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const detail = data && (data.detail || Object.values(data).flat().join(" "));
    const error = new Error(detail || `${response.status}`);
    error.status = response.status; // callers that tell 403 from 409 (and read `missing`) use these
    error.data = data;
    throw error;
  }
  return data;
}
