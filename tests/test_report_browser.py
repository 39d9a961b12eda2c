"""The report page in a real headless Chromium (selenium), with the network blocked: what a reader
relies on — nothing leaves the file, the page fits a phone, the contents stay in view, the summary's
selector works, sorting puts the better values first and blanks last, and no text of the
critical-difference diagram overlaps another."""
import json
import shutil

import pytest

from regbench.report import analyse, load_study, to_html
from test_report import filled_store

INSTALL = ("needs Chromium, its driver and selenium: apt-get install chromium chromium-driver; "
           "pip install -e '.[test]'")


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason=INSTALL)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.skip(INSTALL)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=390,844",  # a phone's viewport
                     "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver_path))
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    yield driver
    driver.quit()


@pytest.fixture
def page(tmp_path):
    path = tmp_path / "report.html"
    path.write_text(to_html(analyse([load_study(filled_store(tmp_path / "store"))])))
    return path.as_uri()


def column(table, index: int) -> list[str]:
    return [row.find_elements("css selector", "td")[index].text
            for row in table.find_elements("css selector", "tbody tr")]


def viewport(browser, width: int, height: int) -> None:
    """Set the page's viewport (not the window's outer size) to width × height."""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


@pytest.mark.slow
def test_page_offline_sorts_better_first_and_draws(browser, page):
    browser.get(page)
    requests = [json.loads(entry["message"])["message"] for entry in browser.get_log("performance")]
    urls = [m["params"]["request"]["url"] for m in requests if m["method"] == "Network.requestWillBeSent"]
    assert urls and all(url.startswith(("file:", "data:")) for url in urls), urls

    table = browser.find_element("css selector", "#tasks table.sortable")  # digits_ae: 5 configurations
    header = table.find_elements("css selector", "th")
    mean = next(i for i, th in enumerate(header) if th.text.startswith("mean"))
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", table)  # below the top bar
    header[mean].click()  # test_mse: lower is better, so the first click puts the lowest first
    means = [float(x) for x in column(table, mean)]
    assert means == sorted(means) and header[mean].get_attribute("aria-sort") == "ascending"
    header[mean].click()
    assert [float(x) for x in column(table, mean)] == sorted(means, reverse=True)
    p = next(i for i, th in enumerate(header) if th.text.startswith("p (Holm)"))
    header[p].click()
    values = column(table, p)
    filled = [v for v in values if v]
    assert values[:len(filled)] == filled and len(filled) == 2  # blanks last

    plots = browser.find_elements("css selector", "svg")
    assert len(plots) == 8  # the CD diagram, intervals and geometry per task, digits_ae's curves
    for plot in plots:
        browser.execute_script("arguments[0].scrollIntoView()", plot)
        size = browser.execute_script("var r = arguments[0].getBoundingClientRect();"
                                      "return [r.width, r.height];", plot)
        assert min(size) > 0, plot.get_attribute("aria-label")


@pytest.mark.slow
@pytest.mark.parametrize("width", [390, 1400])
def test_page_fits_its_width_and_the_contents_stay_in_view(browser, page, width):
    viewport(browser, width, 844)
    browser.get(page)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    box = browser.execute_script("var r = document.querySelector('nav.contents').getBoundingClientRect();"
                                 "return [r.top, r.bottom, r.width];")
    assert box[0] >= -1 and box[1] > box[0] + 10 and box[2] > 0, box  # on screen, not scrolled away


@pytest.mark.slow
def test_the_selector_changes_the_summary(browser, page):
    browser.get(page)
    box = browser.find_element("css selector", "#summary-codes")
    rows = lambda: [tuple(r.text.split()) for r in box.find_elements("css selector", "tbody tr")]  # noqa: E731
    before = rows()
    assert [reg for reg, _ in before] == ["mmd_imq", "eccentric", "none"]  # the Friedman test's 2 tasks
    for task in ("mnist_ae (store)", "celeba_ae (store)"):
        check = box.find_element("css selector", f"input[value='{task}']")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", check)
        check.click()
    after = rows()  # digits_ae and celeba_ae: mmd_imq has no run on celeba_ae
    assert [reg for reg, _ in after] == ["eccentric", "none"]
    assert box.find_element("css selector", ".count").text.startswith("2 tasks, 2 regularizers")
    select = box.find_element("css selector", "select")
    browser.execute_script("arguments[0].value = 'time'; arguments[0].dispatchEvent(new Event('change'))", select)
    assert [reg for reg, _ in rows()] == ["none", "eccentric"]  # eccentric takes longer


@pytest.mark.slow
def test_no_text_of_the_critical_difference_diagram_overlaps_another(browser, page):
    viewport(browser, 1400, 900)
    browser.get(page)
    diagram = browser.find_element("css selector", "svg[aria-label^='critical-difference']")
    browser.execute_script("arguments[0].scrollIntoView()", diagram)
    boxes = browser.execute_script(
        "return Array.prototype.map.call(arguments[0].querySelectorAll('text'), function (t) {"
        "  var r = t.getBoundingClientRect(); return [t.textContent, r.left, r.top, r.right, r.bottom]; });",
        diagram)
    assert len(boxes) >= 3 + 3  # the axis ticks 1..3, three names, the CD label
    for i, (a, *pa) in enumerate(boxes):
        for b, *pb in boxes[i + 1:]:
            apart = pa[2] <= pb[0] or pb[2] <= pa[0] or pa[3] <= pb[1] or pb[3] <= pa[1]
            assert apart, (a, b)
