// The dashboard page's code: plain DOM, no library, inlined into the page by build.mjs. Every value
// from the API is put in the page as text (textContent), never as markup.
(() => {
  interface Problem { param?: string; message: string }
  interface ApiError { error: { message: string; param?: string; details?: Problem[] } }
  type Rule = Record<string, unknown> & { id: string; code: number; cluster: boolean; hits: number };
  interface Attempt {
    at: string; forced: boolean; rule: string | null; reply: string | null; outcome: string;
    attempt: Record<string, unknown> & { phase?: string | null; tls?: boolean | null };
  }
  interface Message {
    id?: string; receivedAt: string; raw?: string;
    envelope: { mailFrom: string | false | null; rcptTo: string[] };
    headers: Record<string, string[] | string>;
  }

  const SELECTORS = ['pool', 'mta', 'domain', 'ip', 'recipient', 'tag'];
  const FIELDS = [...SELECTORS, 'code', 'extended', 'description', 'phase', 'times', 'expires', 'priority', 'probability'];
  const NUMBERS = new Set(['code', 'times', 'priority', 'probability']);
  const KEEP = 1000; // attempts shown at most; older ones are dropped
  const $ = <T extends HTMLElement = HTMLElement>(selector: string): T => {
    const el = document.querySelector<T>(selector);
    if (!el) throw new Error(`the page lacks ${selector}`);
    return el;
  };
  function h(tag: string, props: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElement {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) el.setAttribute(k, v);
    el.append(...children);
    return el;
  }

  let token = sessionStorage.getItem('smtp-intercept-token') ?? '';
  let rules: Rule[] = [];
  let attempts: Attempt[] = [];
  let paused = false;
  let held: Attempt[] = [];
  let evidence: string | null = null;
  let stream: AbortController | null = null;

  async function api(path: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(path, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` } });
    if (res.status === 401) { logout('The token was refused.'); throw new Error('unauthorized'); }
    return res;
  }

  // Login: the token from the address once (then dropped from it), or asked for once per tab.
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get('token') ?? new URLSearchParams(location.search).get('token');
  if (fromUrl) { token = fromUrl; history.replaceState(null, '', location.pathname); }

  async function login(): Promise<void> {
    const res = await fetch('/v1/errors', { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) { logout(res.status === 401 ? 'The token was refused.' : `The API answered ${res.status}.`); return; }
    sessionStorage.setItem('smtp-intercept-token', token);
    $('#login').hidden = true;
    $('#nav').hidden = false;
    show('rules');
    rules = await res.json() as Rule[];
    renderRules();
    await loadAttempts();
    openStream();
  }
  function logout(reason = ''): void {
    sessionStorage.removeItem('smtp-intercept-token');
    token = '';
    stream?.abort();
    stream = null;
    $('#nav').hidden = true;
    for (const id of ['rules', 'attempts', 'messages']) $(`#${id}`).hidden = true;
    $('#login').hidden = false;
    $('#login-error').textContent = reason;
  }
  $('#login').addEventListener('submit', (e) => { e.preventDefault(); token = $<HTMLInputElement>('#token').value.trim(); void login(); });
  $('#logout').addEventListener('click', () => logout());

  function show(tab: string): void {
    for (const id of ['rules', 'attempts', 'messages']) $(`#${id}`).hidden = id !== tab;
    for (const b of document.querySelectorAll<HTMLButtonElement>('nav [data-tab]')) b.classList.toggle('on', b.dataset.tab === tab);
    if (tab === 'messages') void loadMessages();
  }
  for (const b of document.querySelectorAll<HTMLButtonElement>('nav [data-tab]')) b.addEventListener('click', () => show(b.dataset.tab ?? 'rules'));

  // Rules: table, filter, add form (the API's validation errors next to their fields), delete.
  const grid = $('#add .grid');
  for (const name of FIELDS) {
    const input = name === 'phase'
      ? h('select', { name }, h('option', { value: '' }, 'any'), ...['connect', 'mail', 'rcpt', 'data'].map((p) => h('option', { value: p }, p)))
      : h('input', { name, ...(name === 'code' ? { required: '' } : {}) });
    grid.append(h('label', {}, name, input, h('span', { class: 'error', 'data-error-for': name })));
  }
  grid.append(h('label', {}, 'cluster', h('input', { name: 'cluster', type: 'checkbox' }), h('span', { class: 'error', 'data-error-for': 'cluster' })));

  const selectorsOf = (r: Record<string, unknown>) => SELECTORS.filter((k) => r[k] !== undefined && r[k] !== null).map((k) => `${k}=${String(r[k])}`).join(' ') || '(every attempt)';
  const replyOf = (r: Rule) => [r.code, r.extended, Array.isArray(r.description) ? r.description.join(' / ') : r.description].filter((v) => v !== undefined).join(' ');

  function renderRules(): void {
    const filter = $<HTMLInputElement>('#rule-filter').value.trim().toLowerCase();
    const shown = rules.filter((r) => !filter || JSON.stringify(r).toLowerCase().includes(filter));
    $('#rule-count').textContent = `${shown.length} of ${rules.length} rules`;
    $('#rule-rows').replaceChildren(...shown.map((r) => {
      const del = h('button', { 'data-delete': r.id }, 'Delete');
      del.addEventListener('click', () => void removeRule(r.id));
      const ev = h('button', { 'data-evidence': r.id }, 'Evidence');
      ev.addEventListener('click', () => { evidence = r.id; renderAttempts(); show('attempts'); });
      return h('tr', { 'data-rule': r.id }, h('td', {}, h('code', {}, selectorsOf(r))), h('td', {}, replyOf(r)), h('td', {}, String(r.phase ?? 'any')),
        h('td', {}, r.cluster ? 'cluster' : 'instance'), h('td', {}, r.times === undefined ? '∞' : String(r.times)),
        h('td', {}, String(r.expires ?? '')), h('td', {}, String(r.hits)), h('td', {}, ev, ' ', del));
    }));
  }
  $('#rule-filter').addEventListener('input', renderRules);

  async function refreshRules(): Promise<void> {
    rules = await (await api('/v1/errors')).json() as Rule[];
    renderRules();
  }
  async function removeRule(id: string): Promise<void> {
    await api(`/v1/errors/${encodeURIComponent(id)}`, { method: 'DELETE' });
    await refreshRules();
  }

  $('#add').addEventListener('submit', (e) => { e.preventDefault(); void addRule(e.currentTarget as HTMLFormElement); });
  async function addRule(form: HTMLFormElement): Promise<void> {
    for (const el of form.querySelectorAll('[data-error-for]')) el.textContent = '';
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    const body: Record<string, unknown> = {};
    for (const name of FIELDS) {
      const value = (form.elements.namedItem(name) as HTMLInputElement).value.trim();
      // Numbers as numbers when they are; anything else as typed, for the API to name the problem.
      if (value !== '') body[name] = NUMBERS.has(name) && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
    }
    if ((form.elements.namedItem('cluster') as HTMLInputElement).checked) body.cluster = true;
    const res = await api('/v1/errors', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.ok) { form.reset(); await refreshRules(); return; }
    const { error } = await res.json() as ApiError;
    for (const problem of error.details ?? [{ param: error.param ?? '', message: error.message }]) {
      const field = form.querySelector(`[data-error-for="${CSS.escape(problem.param ?? '')}"]`) ?? form.querySelector('[data-error-for=""]');
      if (field) field.textContent = [field.textContent, problem.message].filter(Boolean).join('; ');
      const input = form.elements.namedItem(problem.param ?? '');
      if (input instanceof HTMLElement) input.setAttribute('aria-invalid', 'true');
    }
  }

  // Attempts: the recent ones, then live over the event stream; pause holds new ones, clear empties.
  async function loadAttempts(): Promise<void> {
    attempts = (await (await api('/v1/attempts')).json() as Attempt[]).slice(-KEEP);
    renderAttempts();
  }
  function renderAttempts(): void {
    const shown = evidence === null ? attempts : attempts.filter((a) => a.rule === evidence);
    $('#evidence').replaceChildren(...(evidence === null ? [] : [`Attempts forced by rule ${evidence} `, clearEvidence]));
    $('#attempt-rows').replaceChildren(...shown.slice().reverse().map((a) => h('tr', { class: a.outcome, 'data-outcome': a.outcome },
      h('td', {}, a.at.slice(11, 23)), h('td', {}, String(a.attempt.phase ?? '')),
      h('td', {}, a.attempt.tls === true ? 'yes' : a.attempt.tls === false ? 'no' : ''), h('td', {}, h('code', {}, selectorsOf(a.attempt))),
      h('td', {}, a.outcome), h('td', {}, h('code', {}, a.reply ?? '')), h('td', {}, h('code', {}, a.rule ?? '')))));
  }
  const clearEvidence = h('button', {}, 'Show all');
  clearEvidence.addEventListener('click', () => { evidence = null; renderAttempts(); });
  function arrived(a: Attempt): void {
    if (paused) { held.push(a); if (held.length > KEEP) held.shift(); $('#live-state').textContent = `paused, ${held.length} held`; return; }
    attempts.push(a);
    if (attempts.length > KEEP) attempts.shift();
    renderAttempts();
  }
  $('#pause').addEventListener('click', () => {
    paused = !paused;
    $('#pause').textContent = paused ? 'Resume' : 'Pause';
    $('#live-state').textContent = paused ? 'paused' : 'live';
    if (!paused) { attempts = [...attempts, ...held].slice(-KEEP); held = []; renderAttempts(); }
  });
  $('#clear').addEventListener('click', () => { attempts = []; held = []; renderAttempts(); });

  function openStream(): void {
    const controller = new AbortController();
    stream = controller;
    void (async () => {
      try {
        const res = await api('/v1/attempts/stream', { signal: controller.signal });
        if (!res.ok || !res.body) throw new Error(`the stream answered ${res.status}`);
        $('#live-state').textContent = paused ? 'paused' : 'live';
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) !== -1) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
            if (data) arrived(JSON.parse(data) as Attempt);
          }
        }
      } catch (err) {
        if (controller.signal.aborted) return;
        $('#live-state').textContent = `disconnected (${(err as Error).message}); reconnecting`;
      }
      if (stream === controller) setTimeout(() => { if (stream === controller) openStream(); }, 2000);
    })();
  }

  // Messages: serve's listing (paged or a plain array), and one message's envelope, headers and source.
  let messages: Message[] = [];
  async function loadMessages(): Promise<void> {
    const first = await (await api('/v1/messages?limit=1000')).json() as Message[] | { messages: Message[]; next: string | null };
    messages = Array.isArray(first) ? first : first.messages;
    for (let next = Array.isArray(first) ? null : first.next; next !== null && messages.length < 10_000;) {
      const page = await (await api(`/v1/messages?limit=1000&after=${encodeURIComponent(next)}`)).json() as { messages: Message[]; next: string | null };
      messages.push(...page.messages);
      next = page.messages.length === 0 ? null : page.next;
    }
    const header = (m: Message, name: string) => { const v = m.headers[name]; return Array.isArray(v) ? v.join(', ') : v ?? ''; };
    $('#message-count').textContent = `${messages.length} messages`;
    $('#message-rows').replaceChildren(...messages.slice().reverse().map((m) => {
      const row = h('tr', {}, h('td', {}, m.receivedAt.slice(0, 19).replace('T', ' ')), h('td', {}, String(m.envelope.mailFrom || '<>')),
        h('td', {}, m.envelope.rcptTo.join(', ')), h('td', {}, header(m, 'subject')));
      row.addEventListener('click', () => { for (const r of row.parentElement?.children ?? []) r.classList.remove('on'); row.classList.add('on'); void openMessage(m); });
      return row;
    }));
  }
  $('#refresh').addEventListener('click', () => void loadMessages());
  async function openMessage(m: Message): Promise<void> {
    const raw = m.raw ?? (m.id === undefined ? '' : await (await api(`/v1/messages/${encodeURIComponent(m.id)}/raw`)).text());
    const headers = Object.entries(m.headers).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => h('tr', {}, h('th', {}, k), h('td', {}, x))));
    const view = $('#message');
    view.hidden = false;
    view.replaceChildren(h('h2', {}, 'Envelope'), h('p', {}, `MAIL FROM: ${String(m.envelope.mailFrom || '<>')}`), h('p', {}, `RCPT TO: ${m.envelope.rcptTo.join(', ')}`),
      h('h2', {}, 'Headers'), h('table', {}, h('tbody', {}, ...headers)), h('h2', {}, 'Source'), h('pre', { id: 'raw' }, raw));
  }

  if (token) void login();
})();
