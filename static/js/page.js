// Behaviour every page shares, wired here because the Content-Security-Policy allows no inline script
// or style (ictms/lib/csp.py):
// - <select data-autosubmit> submits its form when the choice changes (the filter forms; a <noscript>
//   button does it without JavaScript);
// - [data-width="N"] is drawn N% wide (the bars of the progress charts; their numbers are printed beside them).

document.addEventListener("change", (event) => {
  const select = event.target;
  if (select instanceof HTMLSelectElement && select.hasAttribute("data-autosubmit") && select.form) {
    select.form.submit();
  }
});

for (const el of document.querySelectorAll("[data-width]")) {
  const pct = Number(el.getAttribute("data-width"));
  if (Number.isFinite(pct)) el.style.width = `${Math.max(0, Math.min(100, pct))}%`;
}
