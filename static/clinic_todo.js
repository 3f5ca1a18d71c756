// The clinic to-do list: a student's checkbox selects or clears all of that student's links.
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.classList.contains("select-group")) return;
  const group = box.closest("[data-clinic-student]");
  if (!group) return;
  group.querySelectorAll('input[name="link_ids"]').forEach((item) => { item.checked = box.checked; });
});
