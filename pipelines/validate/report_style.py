"""The style sheet of the validation reports' own pages.

The Data Docs index (:mod:`pipelines.validate.data_docs`) and the exploration page
(:mod:`pipelines.validate.exploration_page`) share it, so the two pages look alike.
"""

#: Inline CSS for a self-contained page (no external assets).
PAGE_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em 2em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ccc}
h3{font-size:1em;margin:1em 0 .3em}
table{border-collapse:collapse;margin:.4em 0;font-size:.85em}
th,td{border:1px solid #ddd;padding:2px 7px;text-align:right;vertical-align:top}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.ok{color:#1a7f37}.bad{color:#cf222e}.note{color:#555;font-size:.9em}
.grid{display:flex;flex-wrap:wrap;gap:1.2em}.card{border:1px solid #ddd;padding:.5em .8em}
svg text{font-size:9px;fill:#555}
"""
