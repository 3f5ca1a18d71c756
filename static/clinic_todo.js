// The clinic to-do list: a student's checkbox selects all of that student's links (it is sent
// itself, so the server takes every open link of the student even before their rows are read);
// clearing one of the student's links clears the student's box; rows read when a student's row
// is opened take the student's box's state.
(() => {
  const groupOf = (element) => element.closest("[data-clinic-student]");
  const linkBoxes = (group) => group.querySelectorAll('input[name="link_ids"]');

  document.addEventListener("change", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement)) return;
    const group = groupOf(box);
    if (!group) return;
    if (box.classList.contains("select-group")) {
      linkBoxes(group).forEach((item) => { item.checked = box.checked; });
    } else if (box.name === "link_ids" && !box.checked) {
      const all = group.querySelector("input.select-group");
      if (all) all.checked = false;
    }
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    const group = groupOf(event.target);
    const all = group && group.querySelector("input.select-group");
    if (all && all.checked) linkBoxes(group).forEach((item) => { item.checked = true; });
  });
})();
