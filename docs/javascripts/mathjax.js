// MathJax 3 configuration for arithmatex's generic output (\( … \) inline, \[ … \] and environments
// displayed); everything outside arithmatex's elements is left alone. The script itself is bundled
// into the site by docs/hooks/mathjax.py.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
};
