// The account menu (a <details>): Escape closes it and gives the focus back to its button, as does a
// click anywhere else on the page.
(function () {
  const menu = document.getElementById("account-menu");
  if (!menu) return;
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !menu.open) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });
  document.addEventListener("click", function (event) {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
})();
