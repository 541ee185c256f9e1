// The API token page: <button data-copy="ID"> copies the value of the input #ID to the clipboard and says so
// in the [data-copy-status="ID"] element. Without JavaScript (or clipboard access) the key stays selectable.

for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", async () => {
    const id = button.getAttribute("data-copy");
    const input = document.getElementById(id);
    const status = document.querySelector(`[data-copy-status="${id}"]`);
    if (!(input instanceof HTMLInputElement)) return;
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
      if (status) status.textContent = "Copied.";
    } catch {
      if (status) status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
    }
  });
}
