// The page's settings, rendered by the server into a JSON script tag (urls, rights, the series).

export const config = JSON.parse(document.getElementById("viewer-config").textContent);
