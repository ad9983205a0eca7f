// Settings → Branding: the colour picker and the #RRGGBB field stay in step, and the preview follows
// the form as the admin types. Without this file the text field alone works, and the preview shows the
// saved branding.
"use strict";
(() => {
  const picker = document.querySelector("[data-colour-picker]");
  const text = document.querySelector("[data-colour-text]");
  const preview = document.querySelector("[data-brand-preview]");
  const nameInput = document.querySelector("input[name=organization_name]");
  if (!picker || !text || !preview) return;
  const hex = /^#[0-9A-Fa-f]{6}$/;

  // White or near-black text on the colour, whichever reads better (as the learner pages do).
  const luminance = (colour) => {
    const channel = (i) => {
      const c = parseInt(colour.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
  };
  const ink = (colour) => ((1.05 / (luminance(colour) + 0.05)) >= ((luminance(colour) + 0.05) / 0.0611) ? "#FFFFFF" : "#111827");

  const paint = (colour) => {
    preview.querySelectorAll("[data-preview-colour-text]").forEach((el) => { el.style.color = colour; });
    preview.querySelectorAll("[data-preview-colour-fill]").forEach((el) => {
      el.style.background = colour;
      el.style.color = ink(colour);
    });
    preview.style.borderColor = colour;
  };
  picker.addEventListener("input", () => {
    text.value = picker.value.toUpperCase();
    paint(picker.value);
  });
  text.addEventListener("input", () => {
    if (hex.test(text.value.trim())) {
      picker.value = text.value.trim().toLowerCase();
      paint(text.value.trim());
    }
  });
  if (nameInput) {
    nameInput.addEventListener("input", () => {
      preview.querySelectorAll("[data-preview-name]").forEach((el) => { el.textContent = nameInput.value; });
    });
  }
  paint(hex.test(text.value) ? text.value : preview.dataset.defaultColour);
})();
