// The search page: a form, filters from the facets, results with highlights and entity chips, "More" pages with
// search_after.
//
// The search lives in the page's URL (/?q=reform&source=orda&from=2026-11-01&sort=date&pages=2), so it can be
// shared, bookmarked and reloaded. Each search the reader makes is a new history entry (pushState); "More
// results" only raises its entry's page count (replaceState), so back goes to the previous search; back and
// forward (popstate) put the form back as the entry's URL has it and search again.
//
// A result whose story has articles of other publishers links to the story (/?story=<id>), a history entry
// of its own: the story's articles by publisher and time, from /stories/<id>.
"use strict";

const PAGE_SIZE = 10;
const MAX_PAGES = 10;  // a URL's pages come in one request, and the API answers at most 100 results
const DATE_TYPING_PAUSE_MS = 600;
const SCROLL_SETTLE_MS = 200;
const chosen = {  // by URL parameter; person, place and organization hold entity keys
  source: new Set(), language: new Set(), author: new Set(), person: new Set(), place: new Set(), organization: new Set(),
};
// Each entity type: its URL parameter, its facet in the API's answer and its list on the page.
const ENTITY_TYPES = {
  person: { facet: "people", list: "facet-people" },
  place: { facet: "places", list: "facet-places" },
  organization: { facet: "organizations", list: "facet-organizations" },
};
const MAX_CHIPS = 8;  // entity chips under a result: its most named entities
const names = new Map();  // display names of the entity keys seen, for the chosen ones no facet lists
const NO_FACETS = { sources: [], languages: [], published_per_day: [], people: [], places: [], organizations: [] };
// search: the URL parameters of the search shown; pages: how many of its pages its URL restores.
const state = { search: new URLSearchParams(), pages: 1, next: null, latest: 0 };
const timers = { dateTyping: 0, scrollSaving: 0 };
const $ = (id) => document.getElementById(id);

function formParams() {
  // The form's search as URL parameters: the page's address, and with size and search_after the API's request.
  const query = new URLSearchParams();
  const q = $("q").value.trim();
  if (q) query.set("q", q);
  for (const [name, values] of Object.entries(chosen)) values.forEach((value) => query.append(name, value));
  for (const name of ["from", "to"]) if ($(name).value) query.set(name, $(name).value);
  if ($("sort").value !== "relevance") query.set("sort", $("sort").value);  // relevance is the API's default
  if ($("duplicates").checked) query.set("duplicates", "true");
  return query;
}

function fillForm(query) {
  // The reverse of formParams. What no field can hold (sort=popularity, from=yesterday) is dropped: a date
  // input takes only YYYY-MM-DD and is left empty by anything else.
  $("q").value = query.get("q") || "";
  $("sort").value = query.get("sort") === "date" ? "date" : "relevance";
  $("duplicates").checked = query.get("duplicates") === "true";
  for (const name of ["from", "to"]) $(name).value = query.get(name) || "";
  for (const [name, values] of Object.entries(chosen)) {
    values.clear();
    query.getAll(name).forEach((value) => values.add(value));
  }
}

function pageUrl() {
  const query = new URLSearchParams(state.search);
  if (state.pages > 1) query.set("pages", state.pages);
  return location.pathname + (query.size ? `?${query}` : "");
}

function useFormSearch() {
  // The form's search becomes the one shown: it names the page (and its history entry), and "More" pages through it.
  state.search = formParams();
  const q = state.search.get("q");
  document.title = q ? `${q} — newsflow search` : "newsflow search";
  $("any-date").hidden = !(state.search.has("from") || state.search.has("to"));
}

function go() {
  // A search the reader made: a new history entry, unless it is the search the entry already has.
  clearTimeout(timers.dateTyping);
  useFormSearch();
  state.pages = 1;
  const url = pageUrl();
  if (url !== location.pathname + location.search) {
    saveScroll();
    history.pushState({ scroll: 0 }, "", url);
  }
  search();
}

async function restore() {
  // The search or story of the URL, on loading the page and on back and forward; then the scroll position of the entry.
  clearTimeout(timers.dateTyping);
  clearTimeout(timers.scrollSaving);  // pending, it would write the position of the entry left into this one
  // Read now: while the results load, the page is at the top, and a scroll saved then would write 0 over it.
  const scroll = history.state?.scroll ?? 0;
  const query = new URLSearchParams(location.search);
  fillForm(query);
  useFormSearch();
  if (query.has("story")) {
    if (await showStory(query.get("story"))) window.scrollTo(0, scroll);
    return;
  }
  const pages = Number.parseInt(query.get("pages"), 10);
  state.pages = pages >= 1 ? Math.min(pages, MAX_PAGES) : 1;
  history.replaceState(history.state, "", pageUrl());  // as the page writes it, without what it dropped
  if (await search()) window.scrollTo(0, scroll);
}

async function more() {
  if (await search(state.next) && state.pages < MAX_PAGES) {
    state.pages += 1;
    history.replaceState(history.state, "", pageUrl());
  }
}

async function ask(path) {
  // The API's answer; a request that failed or an answer that is not JSON is not ok and has no body.
  try {
    const response = await fetch(path);
    return { ok: response.ok, body: await response.json() };
  } catch {
    return { ok: false, body: {} };
  }
}

async function search(cursor) {
  // Runs state.search and shows its first state.pages pages, or appends the page after `cursor`. True if it
  // did; false if it failed or a later search overtook it.
  const run = ++state.latest;
  const request = new URLSearchParams(state.search);
  request.set("size", cursor ? PAGE_SIZE : state.pages * PAGE_SIZE);
  if (cursor) request.set("search_after", cursor);
  const answer = await ask("/search?" + request);
  if (run !== state.latest) return false;
  if (!answer.ok) {
    $("summary").textContent = typeof answer.body.detail === "string" ? answer.body.detail : "That search could not be run.";
    if (!cursor) {  // a failed "More" leaves the results shown, and its button to try again
      $("results").replaceChildren();
      $("more").hidden = true;
      facets(NO_FACETS);
    }
    return false;
  }
  const found = answer.body;
  if (!cursor) $("results").replaceChildren();
  found.results.forEach((hit) => $("results").append(result(hit)));
  const q = state.search.get("q");
  $("summary").textContent = `${found.total} article${found.total === 1 ? "" : "s"}` + (q ? ` for “${q}”` : "");
  state.next = found.next;
  $("more").hidden = !found.next;
  if (!cursor) facets(found.facets);
  return true;
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
  const authors = document.createElement("span");
  appendJoined(authors, hit.authors.map(authorFilter), ", ");
  appendJoined(meta, [hit.site_name || hit.source_id, hit.published_at && hit.published_at.slice(0, 10),
                      hit.authors.length && authors, hit.language].filter(Boolean), " · ");
  const snippet = document.createElement("p");
  snippet.className = "snippet";
  if (hit.highlight.body) snippet.innerHTML = hit.highlight.body.join(" … "); else snippet.textContent = hit.lead;
  item.append(title, meta, snippet);
  const chips = hit.entities.filter((entity) => entity.type in ENTITY_TYPES).slice(0, MAX_CHIPS);
  if (chips.length) {
    const row = document.createElement("p");
    row.className = "entities";
    row.append(...chips.map(entityChip));
    item.append(row);
  }
  if (hit.story_size > 1) item.append(storyLink(hit));
  return item;
}

function storyLink(hit) {
  // "N more from other publishers", N counting publishers; a story of one publisher's copies counts articles.
  const others = hit.story_publishers - 1;
  const link = document.createElement("a");
  link.href = "/?" + new URLSearchParams({ story: hit.story_id });
  link.textContent = others > 0 ? `${others} more from other publishers` : `${hit.story_size - 1} more from this publisher`;
  link.addEventListener("click", (event) => {
    event.preventDefault();
    saveScroll();
    history.pushState({ scroll: 0 }, "", link.href);
    restore();
  });
  const line = document.createElement("p");
  line.className = "story";
  line.append(link);
  return line;
}

async function showStory(id) {
  // The story's articles by publisher in place of the results. True if shown; false if it failed or was overtaken.
  const run = ++state.latest;
  const answer = await ask("/stories/" + encodeURIComponent(id));
  if (run !== state.latest) return false;
  $("more").hidden = true;
  facets(NO_FACETS);
  if (!answer.ok) {
    $("summary").textContent = typeof answer.body.detail === "string" ? answer.body.detail : "That story could not be shown.";
    $("results").replaceChildren();
    return false;
  }
  const story = answer.body;
  const count = (n, what) => `${n} ${what}${n === 1 ? "" : "s"}`;
  $("summary").textContent = `Story: ${count(story.size, "article")} from ${count(story.publishers.length, "publisher")}`;
  document.title = "Story — newsflow search";
  $("results").replaceChildren(...story.publishers.map(publisherItem));
  return true;
}

function publisherItem(publisher) {
  // A publisher and its articles of the story, each a link (if http(s)) with its date; the story's first marked.
  const item = document.createElement("li");
  item.className = "publisher";
  const name = document.createElement("h2");
  // The source too: a syndicated copy often names the original's site.
  name.textContent = publisher.site_name ? `${publisher.site_name} · ${publisher.source_id}` : publisher.source_id;
  const articles = document.createElement("ol");
  articles.replaceChildren(...publisher.articles.map((article) => {
    const line = document.createElement("li");
    const href = webLink(article.url);
    const title = document.createElement(href ? "a" : "span");
    if (href) title.href = href;
    title.className = "title";
    title.textContent = article.title;
    const meta = document.createElement("p");
    meta.className = "meta";
    appendJoined(meta, [(article.published_at || article.first_seen_at).slice(0, 16).replace("T", " "),
                        !article.duplicate_of && "first report"].filter(Boolean), " · ");
    line.append(title, meta);
    return line;
  }));
  item.append(name, articles);
  return item;
}

function entityChip(entity) {
  // A person, place or organisation the article names: a click filters the search by it.
  names.set(entity.key, entity.name);
  const chip = filterButton(entity.name, `Only articles naming ${entity.name}`, () => chosen[entity.type].add(entity.key));
  chip.className = `chip ${entity.type}`;
  chip.dataset.key = entity.key;
  return chip;
}

function appendJoined(parent, parts, separator) {
  parts.forEach((part, index) => parent.append(...(index ? [separator, part] : [part])));
}

function filterButton(text, title, choose) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "filter-button";
  button.textContent = text;
  button.title = title;
  button.addEventListener("click", () => { choose(); go(); });
  return button;
}

function authorFilter(name) {
  return filterButton(name, `Only articles by ${name}`, () => chosen.author.add(name));
}

function facets(all) {
  facetList("facet-sources", all.sources, chosen.source);
  facetList("facet-languages", all.languages, chosen.language);
  facetList("facet-authors", [], chosen.author);  // the API has no author facet: only the chosen authors
  $("facet-authors").parentElement.hidden = chosen.author.size === 0;
  for (const [type, { facet, list }] of Object.entries(ENTITY_TYPES)) {
    all[facet].forEach((bucket) => names.set(bucket.value, bucket.name));
    facetList(list, all[facet], chosen[type], (key) => names.get(key) || key);
    $(list).parentElement.hidden = all[facet].length === 0 && chosen[type].size === 0;
  }
  $("facet-days").replaceChildren(...all.published_per_day.slice(-10).reverse().map((bucket) => {
    const item = document.createElement("li");
    item.append(filterButton(bucket.value, `Only articles published on ${bucket.value}`, () => {
      $("from").value = $("to").value = bucket.value;
    }), `: ${bucket.count}`);
    return item;
  }));
}

function facetList(id, buckets, values, nameOf = (value) => value) {
  // A chosen value stays listed, to be unchecked, where no result has it: an author, or a source of a URL
  // whose query no longer finds it. Its count is unknown, and not shown. `nameOf` names a value (an entity's key).
  const counts = new Map(buckets.map((bucket) => [bucket.value, bucket.count]));
  values.forEach((value) => { if (!counts.has(value)) counts.set(value, null); });
  $(id).replaceChildren(...Array.from(counts, ([value, count]) => {
    const item = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = value;
    box.checked = values.has(value);
    box.addEventListener("change", () => {
      box.checked ? values.add(value) : values.delete(value);
      go();
    });
    label.append(box, count === null ? ` ${nameOf(value)}` : ` ${nameOf(value)} (${count})`);
    item.append(label);
    return item;
  }));
}

function saveScroll() {
  clearTimeout(timers.scrollSaving);
  history.replaceState({ scroll: window.scrollY }, "");
}

// The results of back, forward or a reload come after the browser would restore the scroll position:
// the page keeps each entry's position in its history state and scrolls there once they are shown.
history.scrollRestoration = "manual";
window.addEventListener("scroll", () => {
  clearTimeout(timers.scrollSaving);
  timers.scrollSaving = setTimeout(saveScroll, SCROLL_SETTLE_MS);
});
window.addEventListener("popstate", restore);
$("search").addEventListener("submit", (event) => { event.preventDefault(); go(); });
$("sort").addEventListener("change", go);
$("duplicates").addEventListener("change", go);
// A date input changes with every digit typed (a year is 0002, 0020, 0202, then 2026): the search, and its
// history entry, wait until the typing pauses.
for (const id of ["from", "to"]) {
  $(id).addEventListener("change", () => {
    clearTimeout(timers.dateTyping);
    timers.dateTyping = setTimeout(go, DATE_TYPING_PAUSE_MS);
  });
}
$("any-date").addEventListener("click", () => { $("from").value = $("to").value = ""; go(); });
$("more").addEventListener("click", more);
restore();
