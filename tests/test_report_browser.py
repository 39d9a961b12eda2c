"""The report page in a real headless Chromium (selenium), with the network blocked."""
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


def column(table, index: int) -> list[str]:
    return [row.find_elements("css selector", "td")[index].text
            for row in table.find_elements("css selector", "tbody tr")]


@pytest.mark.slow
def test_page_offline_sorts_and_draws(browser, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(to_html(analyse([load_study(filled_store(tmp_path / "store"))])))
    browser.get(page.as_uri())
    requests = [json.loads(entry["message"])["message"] for entry in browser.get_log("performance")]
    urls = [m["params"]["request"]["url"] for m in requests if m["method"] == "Network.requestWillBeSent"]
    assert urls and all(url.startswith(("file:", "data:")) for url in urls), urls

    table = browser.find_element("css selector", "#tasks table.sortable")  # digits_ae: 4 configurations
    header = table.find_elements("css selector", "th")
    mean = next(i for i, th in enumerate(header) if th.text.startswith("mean"))
    before = list(zip(column(table, 0), column(table, 1)))
    assert before[0] == ("none", "defaults")
    header[mean].click()
    ascending = list(zip(column(table, 0), column(table, 1)))
    assert ascending == [("eccentric", "lam=0.1"), ("eccentric", "lam=0.01"), ("mmd_imq", "defaults"),
                         ("none", "defaults")] != before
    assert [float(x) for x in column(table, mean)] == sorted(float(x) for x in column(table, mean))
    assert header[mean].get_attribute("aria-sort") == "ascending"
    header[mean].click()
    assert list(zip(column(table, 0), column(table, 1))) == ascending[::-1]

    plots = browser.find_elements("css selector", "svg")
    assert len(plots) == 7  # the CD diagram, an interval plot and a geometry row per task
    for plot in plots:
        size = browser.execute_script("var r = arguments[0].getBoundingClientRect();"
                                      "return [r.width, r.height];", plot)
        assert min(size) > 0, plot.get_attribute("aria-label")
