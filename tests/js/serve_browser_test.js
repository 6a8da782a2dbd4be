// serve's page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// uploads an image through the file input, waits for the answer, and checks that the page shows
// predict's probabilities (to the 3 decimals shown), the malignant flag and the Grad-CAM overlay,
// that the research-model warning is visible, and that the page asked nothing of any other host.
// Usage: node serve_browser_test.js URL IMAGE EXPECTED_JSON SCREENSHOT_PNG
//   EXPECTED_JSON: {"benign": p, "malignant": p, "normal": p} as predict --csv printed them.
"use strict";
const { chromium } = require("playwright-core");

async function main() {
  const [url, image, expectedText, screenshot] = process.argv.slice(2);
  if (!screenshot) throw new Error("usage: node serve_browser_test.js URL IMAGE EXPECTED_JSON PNG");
  const expected = JSON.parse(expectedText);
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  const failures = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    const foreign = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(url) && !r.url().startsWith("data:")) foreign.push(r.url());
    });
    await page.goto(url);
    await page.waitForSelector("#model dt", { timeout: 20000 });  // /api/model loaded
    await page.setInputFiles("#file", image);
    await page.waitForSelector("body[data-state]", { timeout: 30000 });
    const state = await page.getAttribute("body", "data-state");
    if (state !== "done") failures.push("the page shows an error: " + (await page.textContent("#error")));

    for (const name of ["benign", "malignant", "normal"]) {
      const shown = await page.textContent(`.bar-row[data-cls="${name}"] .prob`);
      const want = Number(expected[name]).toFixed(3);
      console.log(`${name}: shown ${shown}, predict ${expected[name]}`);
      if (shown !== want) failures.push(`${name}: the page shows ${shown}, predict says ${want}`);
    }
    const flag = await page.textContent("#flag");
    console.log("flag: " + flag);
    if (!/threshold chosen on validation for 90 % sensitivity/.test(flag))
      failures.push("the malignant flag does not state its operating point: " + flag);
    const research = page.locator("#research");
    if (!(await research.isVisible()) || !/not a diagnostic device/.test(await research.textContent()))
      failures.push("the research-model warning is not visible");
    const camOk = await page.$eval("#gradcam", (img) => !img.hidden && img.src.startsWith("data:image/png") &&
                                                         img.complete && img.naturalWidth > 0);
    if (!camOk) failures.push("the Grad-CAM overlay is not shown");
    const commit = await page.textContent("#model");
    if (!/training commit/.test(commit)) failures.push("the model's provenance is not shown");
    if (foreign.length > 0) failures.push("requests to other hosts: " + foreign.join(", "));
    await page.screenshot({ path: screenshot, fullPage: true });
  } finally {
    await browser.close();
  }
  if (failures.length > 0) {
    for (const f of failures) console.error("FAIL: " + f);
    process.exit(1);
  }
  console.log("page OK; screenshot " + screenshot);
}

main().catch((e) => {
  console.error("serve_browser_test: " + e.message);
  process.exit(1);
});
