// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="value">. Those marked `hidden` are shown only where
  // the clipboard can be written; without JavaScript their value is plain text to select.
  function showCopyButtons(root) {
    if (!navigator.clipboard) return;
    root.querySelectorAll("[data-copy][hidden]").forEach(function (button) {
      button.hidden = false;
    });
  }
  showCopyButtons(document);
  document.addEventListener("htmx:load", function (event) { showCopyButtons(event.target); });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button || !navigator.clipboard) return;
    navigator.clipboard.writeText(button.dataset.copy).then(function () {
      button.classList.add("copied");
      button.setAttribute("aria-live", "polite");
      setTimeout(function () { button.classList.remove("copied"); }, 1500);
    }, function () {
      button.classList.add("copy-failed");
      setTimeout(function () { button.classList.remove("copy-failed"); }, 2500);
    });
  });

  // "Add another key" on the new-customer form clones the last blank metadata row.
  document.addEventListener("click", function (event) {
    if (!event.target.matches("[data-add-metadata-row]")) return;
    var rows = document.getElementById("metadata-rows");
    var last = rows.querySelector("[data-metadata-row]:last-child");
    var copy = last.cloneNode(true);
    copy.classList.remove("invalid");
    copy.querySelectorAll("input").forEach(function (input) {
      input.value = "";
      input.removeAttribute("aria-invalid");
    });
    copy.querySelectorAll("select").forEach(function (select) { select.selectedIndex = 0; });
    copy.querySelectorAll(".error").forEach(function (error) { error.remove(); });
    rows.appendChild(copy);
    updateValueEditor(copy);
    copy.querySelector("input").focus();
  });

  // --- Metadata editor: number inputs for numbers, and what a value will be stored as --
  // The hint mirrors customers/forms.py (typed_value, stored_as); the server's preview
  // replaces it a moment later, so the server has the last word.
  var TYPE_LABELS = { string: "Text", integer: "Integer", float: "Number", boolean: "Yes/No" };
  var YES_NO = { "true": true, yes: true, "1": true, "false": false, no: false, "0": false };

  function storedAs(kind, raw) {
    var text = raw.trim();
    if (kind === "boolean") {
      var word = YES_NO[text.toLowerCase()];
      if (word === undefined) return { error: "Choose Yes or No." };
      return { text: TYPE_LABELS.boolean + " " + (word ? "Yes" : "No") };
    }
    if (raw === "") return { text: "" };
    if (kind === "integer") {
      if (!/^[+-]?\d+$/.test(text)) return { error: "Enter a whole number, such as 42." };
      var sign = text[0] === "-" ? "-" : "";
      var digits = text.replace(/^[+-]/, "").replace(/^0+(?=\d)/, "");
      return { text: TYPE_LABELS.integer + " " + (digits === "0" ? "0" : sign + digits) };
    }
    if (kind === "float") {
      var number = Number(text);
      if (text === "" || isNaN(number)) return { error: "Enter a number, such as 4.5." };
      if (!isFinite(number)) return { error: "Enter a finite number." };
      var shown = String(number);
      if (Number.isInteger(number) && Math.abs(number) < 1e16) shown += ".0";
      return { text: TYPE_LABELS.float + " " + shown };
    }
    if (raw.length > 500) return { error: "Text can be at most 500 characters." };
    return { text: TYPE_LABELS.string + " \u201c" + raw + "\u201d" };
  }

  function updateValueEditor(editor, typeChanged) {
    var type = editor.querySelector("[data-value-type]");
    var input = editor.querySelector(".value-text");
    var hint = editor.querySelector("[data-value-hint]");
    if (!type || !input) return;
    var kind = type.value;
    if (typeChanged) {
      var numeric = kind === "integer" || kind === "float";
      var previous = input.value;
      input.type = numeric ? "number" : "text";
      if (numeric) input.step = kind === "integer" ? "1" : "any";
      else input.removeAttribute("step");
      if (input.value !== previous && !numeric) input.value = previous;
    }
    if (!hint) return;
    var result = storedAs(kind, currentValueOf(editor).slice(kind.length + 1));
    hint.classList.toggle("error", Boolean(result.error));
    hint.textContent = result.error || (result.text ? "Will be stored as " + result.text : "");
  }

  // "kind:raw", as the server's preview names what it answered for (data-hint-for).
  function currentValueOf(editor) {
    var kind = editor.querySelector("[data-value-type]").value;
    var booleanMenu = editor.querySelector(".value-boolean select, select.value-boolean");
    var input = editor.querySelector(".value-text");
    return kind + ":" + (kind === "boolean" && booleanMenu ? booleanMenu.value : input.value);
  }

  function valueEditorOf(element) {
    return element.closest && element.closest("[data-metadata-form], [data-metadata-row]");
  }

  document.addEventListener("input", function (event) {
    var editor = valueEditorOf(event.target);
    if (editor) updateValueEditor(editor, false);
  });
  document.addEventListener("change", function (event) {
    var editor = valueEditorOf(event.target);
    if (editor) updateValueEditor(editor, event.target.matches("[data-value-type]"));
  });

  // Escape leaves an inline edit or a removal question, as Cancel does.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var box = event.target.closest && event.target.closest('[data-metadata-form="edit"], [data-metadata-confirm]');
    var cancel = box && box.querySelector("[data-cancel]");
    if (!cancel) return;
    event.preventDefault();
    cancel.click();
  });

  // The metadata filter suggests the values of the key typed: each key has a datalist.
  function suggestValues(event) {
    var key = event.target.closest && event.target.closest("[data-suggest-values]");
    if (!key) return;
    var input = document.getElementById(key.dataset.suggestValues);
    var lists = document.querySelectorAll("datalist[data-key]");
    var match = Array.prototype.find.call(lists, function (list) { return list.dataset.key === key.value; });
    if (match) input.setAttribute("list", match.id); else input.removeAttribute("list");
  }
  document.addEventListener("input", suggestValues);
  document.addEventListener("change", suggestValues);

  // Focus the first field in error, on a page the server sent back and on a fragment htmx
  // swapped in (the server also marks it with autofocus, which a swap does not honour
  // once the page has loaded). A field the person is already in keeps the focus.
  function focusFirstError(root) {
    var field = root.querySelector('[aria-invalid="true"]');
    var active = document.activeElement;
    if (!field || (active && active.getAttribute("aria-invalid") === "true")) return;
    field.focus();
  }

  function updateValueEditors(root) {
    root.querySelectorAll("[data-metadata-form], [data-metadata-row]").forEach(function (editor) {
      updateValueEditor(editor, false);
    });
  }

  // Failed htmx requests: a page fragment answering 400 (a form refused as damaged) is
  // swapped in like any other; any other failure says so in the page's alert area, with
  // the server's own message when it sent one as text, instead of doing nothing.
  function showRequestError(text) {
    var box = document.getElementById("request-error");
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (xhr.status === 400 && type.indexOf("text/html") === 0) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:beforeRequest", function () {
    var box = document.getElementById("request-error");
    if (box) box.hidden = true;
  });
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var type = xhr.getResponseHeader("Content-Type") || "";
    var text = type.indexOf("text/plain") === 0 ? xhr.responseText.trim() : "";
    showRequestError(
      text || "That didn't work (HTTP " + xhr.status + "). Reload the page and try again."
    );
  });
  document.addEventListener("htmx:sendError", function () {
    showRequestError("The server could not be reached. Check your connection and try again.");
  });

  // A range picker (the overview's, a customer's figures'): editing a date makes the range
  // a custom one, before htmx (listening on the form, in the bubbling phase) sends it.
  function customDates(event) {
    if (!event.target.matches || !event.target.matches("[data-range-date]")) return;
    var range = event.target.form && event.target.form.querySelector("[data-range-choice]");
    if (range) range.value = "custom";
  }
  document.addEventListener("input", customDates, true);
  document.addEventListener("change", customDates, true);

  // htmx keeps a copy of the page for the back button. Chart.js sizes its canvases with
  // inline styles, which would come back as a style attribute the CSP refuses: keep them
  // out of the copy (taken right after this event) and put them back (through the CSSOM,
  // which the CSP allows) before the page is painted again. The charts' scripts
  // (overview.js, customer-figures.js) draw a restored canvas again.
  document.addEventListener("htmx:beforeHistorySave", function () {
    document.querySelectorAll("canvas[style]").forEach(function (canvas) {
      var saved = Array.prototype.map.call(canvas.style, function (name) {
        return [name, canvas.style.getPropertyValue(name)];
      });
      canvas.removeAttribute("style");
      window.queueMicrotask(function () {
        saved.forEach(function (property) { canvas.style.setProperty(property[0], property[1]); });
      });
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    updateValueEditors(document);
    focusFirstError(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var root = event.target.isConnected ? event.target : document;
    if (root.matches && root.matches("[data-value-hint]")) {
      // The server's preview: keep it unless it answers for a value since changed.
      var editor = valueEditorOf(root);
      if (editor && root.dataset.hintFor !== currentValueOf(editor)) updateValueEditor(editor, false);
      return;
    }
    updateValueEditors(root);
    focusFirstError(root);
  });
})();
