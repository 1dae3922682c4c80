/* htmx under the production Content-Security-Policy (style-src 'self', no unsafe-eval): no
   <style> injected for its request indicators and no eval (hx-on, trigger filters). Load it right
   after htmx, both deferred: htmx reads its configuration when the document has been parsed. */
(function () {
  "use strict";
  if (window.htmx) {
    window.htmx.config.includeIndicatorStyles = false;
    window.htmx.config.allowEval = false;
  }
})();
