// Tariff editor: when the utility changes and the preview's usage is still an untouched example,
// put in the example for the new utility (the bill preview itself is driven by htmx).
document.addEventListener("DOMContentLoaded", () => {
  const utility = document.getElementById("id_utility");
  const usage = document.getElementById("id_usage");
  const examplesScript = document.getElementById("tariff-usage-examples");
  if (!utility || !usage || !examplesScript) {
    return;
  }
  const examples = JSON.parse(examplesScript.textContent);
  utility.addEventListener("change", () => {
    const untouched = Object.values(examples).some((text) => text.trim() === usage.value.trim());
    if (untouched && examples[utility.value]) {
      usage.value = examples[utility.value];
      usage.dispatchEvent(new Event("input", { bubbles: true }));
    }
  });
});
