"""The HTML loader keeps a page's main content, one paragraph per block with whitespace normalised, and gives
every sentence its page title and the heading or definition term above it as its section."""

from pathlib import Path

import pytest

from index.chunking import chunk_document
from index.loaders import load_document

# A DocBook page as the PostgreSQL manual has them: navigation tables above and below, a table of contents,
# headings inside "titlepage" wrappers, a definition list of parameters, hard line breaks inside paragraphs.
DOCBOOK = """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>20.3. Connections and Authentication</title></head>
<body id="docContent">
<div class="navheader"><table summary="Navigation header"><tr><th colspan="5">20.3. Connections and
Authentication</th></tr><tr><td><a accesskey="p" href="a.html">Prev</a> </td><td><a accesskey="u"
href="b.html">Up</a></td><th>Chapter 20. Server Configuration</th><td><a href="index.html">Home</a></td>
<td> <a accesskey="n" href="c.html">Next</a></td></tr></table><hr /></div>
<div class="sect1"><div class="titlepage"><div><div><h2 class="title">20.3. Connections and
Authentication</h2></div></div></div>
<div class="toc"><dl class="toc"><dt><span class="sect2"><a href="#S">20.3.1. Connection Settings</a></span></dt>
<dt><span class="sect2"><a href="#A">20.3.2. Authentication</a></span></dt></dl></div>
<div class="sect2" id="S"><div class="titlepage"><div><div><h3 class="title">20.3.1. Connection
Settings</h3></div></div></div>
<div class="variablelist"><dl class="variablelist">
<dt id="GUC-PORT"><span class="term"><code class="varname">port</code> (<code class="type">integer</code>)
</span></dt>
<dd><p>
   The TCP port the server listens on;
   5432 by default. Note that the same port number is used for all IP addresses the server listens on.
  </p><div class="note"><h3 class="title">Note</h3><p>Only a superuser can change it.</p></div>
  <p>This parameter can only be set at server start.</p></dd>
<dt id="GUC-MAX-CONNECTIONS"><span class="term"><code>max_connections</code> (<code>integer</code>)</span></dt>
<dd><p>Determines the maximum number of concurrent connections to the database server.</p></dd>
</dl></div>
<p>Settings after the list belong to the section again.</p>
<div class="table"><table class="table"><thead><tr><th>Name</th><th>Default</th></tr></thead>
<tbody><tr><td><code>port</code></td><td>5432</td></tr></tbody></table></div>
</div></div>
<div class="navfooter"><hr /><table summary="Navigation footer"><tr><td><a href="a.html">Prev</a> </td>
<td><a href="b.html">Up</a></td><td> <a href="c.html">Next</a></td></tr><tr><td>20.2. File Locations </td>
<td><a href="index.html">Home</a></td><td> 20.4. Resource Consumption</td></tr></table></div>
</body></html>"""

# A Sphinx page as the Python documentation has them: a mobile <nav>, a "related" bar, a sidebar with the
# table of contents and previous/next topics, the title with the site's name appended, pilcrow links.
SPHINX = """<!DOCTYPE html>
<html><head><meta charset="utf-8" />
<title>zorblax — Zorblax river datatypes &#8212; Python 3.11.2 documentation</title></head>
<body>
<div class="mobile-nav"><nav class="nav-content" role="navigation"><a href="/">Logo</a>
<form role="search"><input type="text" name="q" /></form></nav>
<div class="menu-wrapper"><nav class="menu" role="navigation"><h3>Table of Contents</h3><ul><li>
<a href="#">zorblax — Zorblax river datatypes</a></li></ul></nav></div></div>
<div class="related" role="navigation"><h3>Navigation</h3><ul><li><a href="next.html">next</a> |</li>
<li><a href="prev.html">previous</a> |</li></ul></div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper"><div class="body" role="main">
<section id="module-zorblax"><h1><code>zorblax</code> — Zorblax river datatypes<a class="headerlink"
href="#module-zorblax">¶</a></h1>
<p>This module models the Zorblax
river.</p>
<table class="docutils"><tbody><tr><td><p><code>flood()</code></p></td><td><p>predict the next
flood</p></td></tr></tbody></table>
<section id="gauges"><h2>Gauge objects<a class="headerlink" href="#gauges">¶</a></h2>
<dl class="py class"><dt class="sig sig-object py" id="zorblax.Gauge"><em class="property">class </em>
<span class="sig-prename">zorblax.</span><span class="sig-name">Gauge</span>(<em>site</em>)<a
class="headerlink" href="#zorblax.Gauge">¶</a></dt>
<dd><p>A gauge measures the river's level at
one site.</p>
<dl class="py method"><dt class="sig" id="zorblax.Gauge.read"><span class="sig-name">read</span>()</dt>
<dd><p>Return the level in metres.</p></dd></dl>
<p>Gauges are read hourly.</p></dd></dl>
</section></section>
</div></div></div><div class="sphinxsidebar" role="navigation"><div class="sphinxsidebarwrapper">
<h3>Table of Contents</h3><ul><li><a href="#gauges">Gauge objects</a></li></ul>
<h4>Previous topic</h4><p class="topless"><a href="prev.html">calendar</a></p></div></div></div>
<div class="footer">&copy; Copyright 2001-2026, Python Software Foundation.</div>
</body></html>"""

CHROME = ["Prev", "Up", "Home", "Next", "Table of Contents", "Previous topic", "Navigation", "Copyright", "¶"]


def sentences_of(tmp_path: Path, name: str, html: str) -> tuple[str, dict[str, str]]:
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    doc = load_document(path)
    sentences = chunk_document(doc.text, doc.blocks)
    for s in sentences:
        assert doc.text[s.start : s.end] == s.text, "the quote is the extracted text at its offsets"
        assert "\n" not in s.text and "  " not in s.text
    return doc.text, {s.text: s.section for s in sentences}


def test_docbook_page_keeps_content_under_title_heading_and_term(tmp_path):
    text, sections = sentences_of(tmp_path, "runtime-config-connection.html", DOCBOOK)
    for word in CHROME:
        assert word not in text.split() and word not in sections, f"page chrome kept: {word}"
    assert "20.3.2. Authentication" not in text, "the table of contents is dropped"
    title, settings = "20.3. Connections and Authentication", "20.3.1. Connection Settings"
    # The parameter's term is the section of its sentences, after the page title and the heading.
    assert sections["The TCP port the server listens on; 5432 by default."] == f"{title} › {settings} › port (integer)"
    assert sections["This parameter can only be set at server start."] == f"{title} › {settings} › port (integer)"
    assert sections["Only a superuser can change it."] == f"{title} › port (integer) › Note"
    assert sections["Determines the maximum number of concurrent connections to the database server."] == (
        f"{title} › {settings} › max_connections (integer)"
    )
    # After the list, the section is the heading again; a table row is one paragraph.
    assert sections["Settings after the list belong to the section again."] == f"{title} › {settings}"
    assert sections["port | 5432"] == f"{title} › {settings}"


def test_sphinx_page_keeps_content_under_its_own_name(tmp_path):
    text, sections = sentences_of(tmp_path, "zorblax.html", SPHINX)
    for word in CHROME:
        assert word not in text.split() and word not in sections, f"page chrome kept: {word}"
    assert "Python 3.11.2 documentation" not in text and "calendar" not in text
    title = "zorblax — Zorblax river datatypes"  # the page's own heading, without the site's name
    assert sections["This module models the Zorblax river."] == title
    assert sections["flood() | predict the next flood"] == title
    assert (
        sections["A gauge measures the river's level at one site."]
        == f"{title} › Gauge objects › class zorblax.Gauge(site)"
    )
    assert sections["Return the level in metres."] == f"{title} › class zorblax.Gauge(site) › read()"
    assert sections["Gauges are read hourly."] == f"{title} › Gauge objects › class zorblax.Gauge(site)"


CORPUS = Path("/tmp/corpus-root/usr/share/doc")
REAL_PAGES = [
    CORPUS / "postgresql-doc-15/html/app-pgdump.html",
    CORPUS / "postgresql-doc-15/html/runtime-config-connection.html",
    CORPUS / "python3.11/html/library/collections.html",
    CORPUS / "python3.11/html/glossary.html",
]


@pytest.mark.parametrize("page", REAL_PAGES, ids=lambda p: p.name)
def test_real_manual_pages(page):
    """The issue's corpus (postgresql-doc-15, python3.11-doc unpacked by scripts/bench/bench_scale.py), when present."""
    if not page.exists():
        pytest.skip(f"{page} is not unpacked here")
    doc = load_document(page)
    sentences = chunk_document(doc.text, doc.blocks)
    assert len(sentences) > 100
    for s in sentences:
        assert doc.text[s.start : s.end] == s.text and "\n" not in s.text
        assert not any(s.text.startswith(word) for word in ("Prev ", "Previous topic", "Table of Contents"))
    sections = {s.section for s in sentences}
    if page.name == "app-pgdump.html":
        assert any(s.text.startswith("pg_dump is a utility for backing up") for s in sentences)
        assert "pg_dump › Description" in sections
        assert any(section.startswith("pg_dump › Options › ") for section in sections)
    if page.name == "runtime-config-connection.html":
        port = next(s for s in sentences if s.text.startswith("The TCP port the server listens on"))
        assert port.section.endswith("Connection Settings › port (integer)")
    if page.name == "collections.html":
        assert all(s.section.startswith("collections — Container datatypes") for s in sentences)
        assert "Python 3.11" not in " ".join(sections)
    if page.name == "glossary.html":
        assert any(section == "Glossary › bytecode" for section in sections)


def test_an_articles_own_header_is_content_but_the_pages_banner_is_not(tmp_path):
    page = (
        "<html><head><title>Gauges | River Site</title></head><body><header>River Site Home About</header>"
        "<article><header><h1>Gauges</h1><p>Posted in May.</p></header><p>Gauges read hourly.</p></article>"
        "<footer>Contact us</footer></body></html>"
    )
    text, sections = sentences_of(tmp_path, "gauges.html", page)
    assert "River Site Home" not in text and "Contact us" not in text
    assert sections == {"Posted in May.": "Gauges", "Gauges read hourly.": "Gauges"}
