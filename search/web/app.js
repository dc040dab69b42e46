// The search page: a form, filters from the facets, results with highlights, "More" pages with search_after.
"use strict";

const state = { sources: new Set(), languages: new Set(), next: null };
const $ = (id) => document.getElementById(id);

function params(cursor) {
  const query = new URLSearchParams();
  const q = $("q").value.trim();
  if (q) query.set("q", q);
  query.set("sort", $("sort").value);
  if ($("duplicates").checked) query.set("duplicates", "true");
  state.sources.forEach((value) => query.append("source", value));
  state.languages.forEach((value) => query.append("language", value));
  if (cursor) query.set("search_after", cursor);
  return query;
}

async function search(cursor) {
  const response = await fetch("/search?" + params(cursor));
  const answer = await response.json();
  if (!response.ok) {
    $("summary").textContent = typeof answer.detail === "string" ? answer.detail : "That search could not be run.";
    return;
  }
  if (!cursor) $("results").replaceChildren();
  answer.results.forEach((hit) => $("results").append(result(hit)));
  const q = $("q").value.trim();
  $("summary").textContent = `${answer.total} article${answer.total === 1 ? "" : "s"}` + (q ? ` for “${q}”` : "");
  state.next = answer.next;
  $("more").hidden = !answer.next;
  if (!cursor) facets(answer.facets);
}

function webLink(url) {
  // Only an http(s) URL becomes a link: javascript:, data: and the like would run in this page's origin.
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;  // not an absolute URL (or null)
  }
}

function result(hit) {
  // Highlights are HTML-escaped by Elasticsearch except for <mark>; everything else goes in as text.
  const item = document.createElement("li");
  const href = webLink(hit.url);
  const title = document.createElement(href ? "a" : "span");
  if (href) title.href = href;
  title.className = "title";
  if (hit.highlight.title) title.innerHTML = hit.highlight.title[0]; else title.textContent = hit.title;
  const meta = document.createElement("p");
  meta.className = "meta";
  meta.textContent = [hit.site_name || hit.source_id, hit.published_at && hit.published_at.slice(0, 10),
                      hit.authors.join(", "), hit.language].filter(Boolean).join(" · ");
  const snippet = document.createElement("p");
  snippet.className = "snippet";
  if (hit.highlight.body) snippet.innerHTML = hit.highlight.body.join(" … "); else snippet.textContent = hit.lead;
  item.append(title, meta, snippet);
  return item;
}

function facets(all) {
  facetList("facet-sources", all.sources, state.sources);
  facetList("facet-languages", all.languages, state.languages);
  $("facet-days").replaceChildren(...all.published_per_day.slice(-10).reverse().map((bucket) => {
    const item = document.createElement("li");
    item.textContent = `${bucket.value}: ${bucket.count}`;
    return item;
  }));
}

function facetList(id, buckets, chosen) {
  $(id).replaceChildren(...buckets.map((bucket) => {
    const item = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = bucket.value;
    box.checked = chosen.has(bucket.value);
    box.addEventListener("change", () => {
      box.checked ? chosen.add(bucket.value) : chosen.delete(bucket.value);
      search();
    });
    label.append(box, ` ${bucket.value} (${bucket.count})`);
    item.append(label);
    return item;
  }));
}

$("search").addEventListener("submit", (event) => { event.preventDefault(); search(); });
$("sort").addEventListener("change", () => search());
$("duplicates").addEventListener("change", () => search());
$("more").addEventListener("click", () => search(state.next));
search();
