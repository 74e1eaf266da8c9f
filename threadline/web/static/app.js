// Small conveniences; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  // "select all" checkbox in the queue's header
  document.querySelectorAll("input[data-select-all]").forEach((all) => {
    const name = all.dataset.selectAll;
    all.addEventListener("change", () => {
      document.querySelectorAll(`input[type=checkbox][name="${name}"]`).forEach((box) => { box.checked = all.checked; });
    });
  });
  // the queue's filters apply as soon as a select changes
  const filters = document.getElementById("filters");
  if (filters) {
    filters.querySelectorAll("select").forEach((select) => select.addEventListener("change", () => filters.requestSubmit()));
  }
  // a bulk action needs at least one exception selected
  const bulk = document.getElementById("bulk");
  if (bulk) {
    bulk.addEventListener("submit", (event) => {
      if (!bulk.querySelector("input[name=ids]:checked")) {
        event.preventDefault();
        alert("Select at least one exception first.");
      }
    });
  }
});
