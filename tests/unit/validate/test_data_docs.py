"""GE Data Docs of real validation results: layout, failing expectations, escaping."""

import re

import pytest

from pipelines.validate.data_docs import render_data_docs
from pipelines.validate.expectations import load_suite, run_suite_with_result

ROW_PARAMETERS = {"as_of": "2026-07-01T00:00:00+00:00", "max_caption_chars": 100_000}


@pytest.fixture(scope="module")
def suites(project_root):
    return (load_suite(project_root / "expectations/posts_row_contract.json"),
            load_suite(project_root / "expectations/posts_table_contract.json"))


@pytest.fixture(scope="module")
def broken_results(demo_posts, suites):
    """GE results of both contracts on posts with a negative like count and a bad platform."""
    posts = demo_posts.copy()
    posts.loc[3, "likes"] = -4
    posts.loc[10, "platform"] = "<script>alert(1)</script>"
    row_suite, table_suite = suites
    _, table = run_suite_with_result(posts, table_suite, {"min_rows": 100})
    _, rows = run_suite_with_result(posts, row_suite, ROW_PARAMETERS)
    return table, rows


def _links(page: str) -> list[str]:
    return re.findall(r'href="([^"#]+\.html)"', page)


def test_data_docs_index_links_a_validation_and_suite_page_per_suite(tmp_path, broken_results):
    index = render_data_docs(broken_results, tmp_path / "docs")

    assert index == tmp_path / "docs" / "index.html"
    links = _links(index.read_text(encoding="utf-8"))
    assert len(links) == 4  # a validation page and a suite page for each of the two suites
    for link in links:
        assert (index.parent / link).is_file(), link
    for suite in ("posts_table_contract", "posts_row_contract"):
        assert any(link.startswith(f"validations/{suite}/") for link in links)
        assert f"expectations/{suite}.html" in links
    for page in (index.parent / "validations").rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "Expectation Validation Result" in text  # GE's own validation page
        home = [h for h in re.findall(r'href="([^"]+index\.html)"', text)]
        assert home and all((page.parent / h).resolve() == index.resolve() for h in home)


def test_data_docs_pages_name_the_failing_expectation_column_and_value(tmp_path, broken_results):
    index = render_data_docs(broken_results, tmp_path / "docs")
    text = index.read_text(encoding="utf-8")
    row_page = next((index.parent / "validations" / "posts_row_contract").rglob("*.html"))
    page = row_page.read_text(encoding="utf-8")

    assert text.count("FAILED") == 1  # only the row contract failed
    for html_text in (text, page):
        assert "expect_column_values_to_be_between" in html_text
        assert "expect_column_values_to_be_in_set" in html_text
    assert re.search(r"expect_column_values_to_be_between</td><td>likes</td><td><b>FAILED",
                     page)
    assert re.search(r"expect_column_values_to_be_in_set</td><td>platform</td><td><b>FAILED",
                     page)
    assert "values must be greater than or equal to" in page  # GE's prose rendering
    assert "-4" in page
    # GE inserts unexpected values unescaped; they must arrive escaped exactly once.
    assert "<script>alert(1)" not in page and "<script>alert(1)" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&amp;lt;" not in page
    assert "&lt;script&gt;alert(1)" in text
    assert broken_results[1].results[0].result is not None  # the caller's result is intact
    assert any("<script>alert(1)</script>" in (r.result.get("partial_unexpected_list") or [])
               for r in broken_results[1].results)


def test_data_docs_render_an_expectation_that_raised(tmp_path, demo_posts, suites):
    # A missing column makes GE raise inside the row expectations; the page still renders.
    _, rows = run_suite_with_result(demo_posts.drop(columns=["likes"]), suites[0],
                                    ROW_PARAMETERS)
    index = render_data_docs([rows], tmp_path / "docs")
    page = next((index.parent / "validations").rglob("*.html")).read_text(encoding="utf-8")
    assert "error:" in page and "likes" in page


def test_data_docs_reject_empty_or_foreign_results(tmp_path):
    with pytest.raises(ValueError, match="'results' is empty"):
        render_data_docs([], tmp_path)
    with pytest.raises(ValueError, match=r"results\[0\] must be a GE"):
        render_data_docs([{"suite_name": "x"}], tmp_path)
