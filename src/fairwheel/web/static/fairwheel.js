// Fairwheel dashboard: wallet login (EIP-4361), consent, voucher and revocation signing (EIP-712).
// Signing happens in the browser wallet (window.ethereum, EIP-1193). In dev mode the built-in
// TEST KEY wallets sign on the server instead; the server refuses to sign for any other key.
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("fw-data").textContent);
  const $ = (sel, root = document) => root.querySelector(sel);
  const CHOICE = "fairwheel.wallet";

  function say(text, error = false) {
    const box = $("#status");
    box.innerHTML = "";
    const div = document.createElement("div");
    div.className = error ? "msg error" : "msg";
    div.textContent = text;
    box.appendChild(div);
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function api(method, path, body, headers = {}) {
    const h = { "X-Fairwheel-CSRF": "1", ...headers };
    if (body !== undefined) h["Content-Type"] = "application/json";
    const res = await fetch(path, {
      method, headers: h, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
    if (!res.ok) throw new Error(json && json.code ? `${json.code}: ${json.message}` : `HTTP ${res.status}`);
    return json;
  }

  const wallet = {
    kind: null,
    address: null,
    async connect(choice) {
      if (choice === "injected") {
        if (!window.ethereum) {
          throw new Error("no browser wallet (window.ethereum) found" +
            (data.dev ? "; pick one of the TEST KEY wallets" : ""));
        }
        const accounts = await window.ethereum.request({ method: "eth_requestAccounts" });
        this.kind = "injected";
        this.address = accounts[0];
      } else {
        this.kind = "dev";
        this.address = choice;
      }
      localStorage.setItem(CHOICE, choice);
      return this.address;
    },
    restore() {
      if (!data.session) return;
      const choice = localStorage.getItem(CHOICE) || "injected";
      this.address = data.session.address;
      const isDev = data.devWallets.some((w) => w.address.toLowerCase() === this.address.toLowerCase());
      this.kind = isDev && choice !== "injected" ? "dev" : "injected";
    },
    async signPersonal(message) {
      if (this.kind === "dev") {
        return (await api("POST", `/v1/dev/wallets/${this.address}/signature`, { kind: "personal", message })).signature;
      }
      const hex = "0x" + Array.from(new TextEncoder().encode(message), (b) => b.toString(16).padStart(2, "0")).join("");
      return window.ethereum.request({ method: "personal_sign", params: [hex, this.address] });
    },
    async signTyped(typed) {
      if (this.kind === "dev") {
        return (await api("POST", `/v1/dev/wallets/${this.address}/signature`, { kind: "typed_data", typed_data: typed })).signature;
      }
      return window.ethereum.request({ method: "eth_signTypedData_v4", params: [this.address, JSON.stringify(typed)] });
    },
  };

  // ------------------------------------------------------------------ parsing records
  function parseCsv(text) {
    const rows = [];
    let row = [], field = "", quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
        else if (c === '"') quoted = false;
        else field += c;
      } else if (c === '"') quoted = true;
      else if (c === ",") { row.push(field); field = ""; }
      else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i++;
        row.push(field); rows.push(row); row = []; field = "";
      } else field += c;
    }
    if (field || row.length) { row.push(field); rows.push(row); }
    const header = (rows.shift() || []).map((h) => h.trim().toLowerCase());
    const t = header.indexOf("text"), l = header.indexOf("label");
    if (t < 0) throw new Error("the CSV needs a 'text' column");
    return rows.filter((r) => r[t] && r[t].trim())
      .map((r) => ({ text: r[t], label: l >= 0 && r[l] ? r[l] : null }));
  }

  function parseLines(text) {
    return text.split(/\r?\n/).filter((line) => line.trim()).map((line) => {
      const [body, label] = line.split("\t");
      return { text: body, label: label ? label.trim() : null };
    });
  }

  // ----------------------------------------------------------------------- amounts
  function toUnits(decimal, decimals = 18) {
    const [whole, frac = ""] = String(decimal).trim().split(".");
    if (!/^\d+$/.test(whole || "0") || !/^\d*$/.test(frac)) throw new Error("not an amount");
    return BigInt(whole || "0") * 10n ** BigInt(decimals) + BigInt((frac + "0".repeat(decimals)).slice(0, decimals) || "0");
  }
  const word = (hex) => hex.replace(/^0x/, "").padStart(64, "0");
  const fmtUnits = (units) => (Number(BigInt(units) / 10n ** 12n) / 1e6).toString();

  // ------------------------------------------------------------------------ actions
  async function login() {
    const sel = $("#wallet-choice");
    const address = await wallet.connect(sel ? sel.value : "injected");
    say("Sign the login message in your wallet…");
    const nonce = await api("POST", "/v1/auth/nonce", { address });
    const signature = await wallet.signPersonal(nonce.message);
    await api("POST", "/v1/auth/login", { message: nonce.message, signature });
    location.reload();
  }

  async function submitRecords(form) {
    const file = form.csv.files[0];
    const records = file ? parseCsv(await file.text()) : parseLines(form.text.value);
    if (!records.length) throw new Error("nothing to submit");
    const pool = form.pool.value;
    const drafts = await api("POST", `/v1/pools/${pool}/consents`, { records, purposes: Number(form.purposes.value) });
    const signed = [];
    for (const [i, item] of drafts.items.entries()) {
      say(`Signing consent ${i + 1} of ${records.length}…`);
      const signature = await wallet.signTyped(item.typed_data);
      signed.push({ text: records[i].text, label: records[i].label, consent: item.consent, signature });
    }
    const result = await api("POST", `/v1/pools/${pool}/contributions`, { records: signed }, { "Idempotency-Key": uuid() });
    say(`Submitted: ${Object.entries(result.counts).map(([k, v]) => `${v} ${k}`).join(", ")}. Reloading…`);
    setTimeout(() => location.reload(), 900);
  }

  async function revoke(recordId) {
    if (!confirm(`Revoke record ${recordId}? It will never be served or paid again and its content is destroyed.`)) return;
    const typed = await api("GET", `/v1/contributions/${recordId}/revocation`);
    const signature = await wallet.signTyped(typed);
    const out = await api("POST", `/v1/contributions/${recordId}/revocation`, { signature }, { "Idempotency-Key": uuid() });
    say(`Record ${recordId} revoked${out.tx_hash ? ` (tx ${out.tx_hash.slice(0, 12)}…)` : ""}.`);
    setTimeout(() => location.reload(), 700);
  }

  async function deposit(form) {
    const pool = Number(form.dataset.pool);
    const units = toUnits(form.amount.value);
    if (wallet.kind === "dev") {
      await api("POST", `/v1/dev/wallets/${wallet.address}/deposit`, { pool_id: pool, amount: units.toString() });
    } else if (data.chain.embedded) {
      throw new Error("the embedded chain lives inside the server: browser wallets cannot send to it; use a TEST KEY wallet (--dev) or run the node on an http:// chain");
    } else {
      const token = data.chain.contracts.FairToken, escrow = data.chain.contracts.UsageEscrow;
      const amount = word(units.toString(16));
      say("Approve the escrow in your wallet…");
      await window.ethereum.request({ method: "eth_sendTransaction", params: [{ from: wallet.address, to: token, data: data.selectors.approve + word(escrow) + amount }] });
      say("Confirm the deposit in your wallet…");
      await window.ethereum.request({ method: "eth_sendTransaction", params: [{ from: wallet.address, to: escrow, data: data.selectors.deposit + word(BigInt(pool).toString(16)) + amount }] });
    }
    say("Deposited. Reloading…");
    setTimeout(() => location.reload(), 700);
  }

  async function tryCall(form) {
    const pool = Number(form.pool.value), kind = form.kind.value, payer = wallet.address;
    const quote = await api("GET", `/v1/pools/${pool}/quote?kind=${kind}&payer=${payer}`);
    // Never sign more than this browser knows it has spent plus the price.
    const key = `fairwheel.spent.${data.chain.chainId}.${pool}.${payer.toLowerCase()}`;
    const known = localStorage.getItem(key);
    if (known !== null && BigInt(quote.spent) > BigInt(known) &&
        !confirm(`The node says you spent ${fmtUnits(quote.spent)} FAIR, this browser knows of ${fmtUnits(known)}. Sign anyway?`)) return;
    say(`Sign a voucher for ${fmtUnits(quote.price)} FAIR (cumulative ${fmtUnits(quote.next_cumulative)})…`);
    const signature = await wallet.signTyped(quote.typed_data);
    const voucher = JSON.stringify({ payer: quote.payer, pool_id: pool, cumulative_amount: quote.next_cumulative });
    const body = kind === "search" ? { query: form.query.value, k: Number(form.k.value) } : { text: form.query.value };
    const res = await api("POST", `/v1/pools/${pool}/${kind}`, body,
      { "X-Fairwheel-Voucher": voucher, "X-Fairwheel-Signature": signature, "Idempotency-Key": uuid() });
    localStorage.setItem(key, quote.next_cumulative);
    const out = $("#try-result");
    out.innerHTML = "";
    const head = document.createElement("p");
    head.textContent = `Call #${res.seq}: paid ${fmtUnits(res.price)} FAIR — operator ${fmtUnits(res.operator_fee)}, builder ${fmtUnits(res.builder_amount)}, ${res.attribution.length} contributor(s).`;
    out.appendChild(head);
    if (res.prediction !== null) {
      const p = document.createElement("p");
      p.textContent = `Prediction: ${res.prediction} (confidence ${res.confidence.toFixed(2)}, model ${res.model_hash.slice(0, 10)}…)`;
      out.appendChild(p);
    }
    for (const hit of res.hits) {
      const div = document.createElement("div");
      div.className = "hit";
      div.textContent = `${hit.score.toFixed(3)} · ${hit.text} [${hit.label || "—"}] · record ${hit.record_id} by ${hit.contributor.slice(0, 8)}…`;
      out.appendChild(div);
    }
    say("Done.");
  }

  const actions = {
    login, 
    async logout() { await api("POST", "/v1/auth/logout"); localStorage.removeItem(CHOICE); location.reload(); },
    async revoke(el) { await revoke(el.dataset.record); },
    async claim(el) {
      const out = await api("POST", `/v1/pools/${el.dataset.pool}/claims/${wallet.address}`, undefined, { "Idempotency-Key": uuid() });
      say(`Claimed ${fmtUnits(out.paid)} FAIR.`); setTimeout(() => location.reload(), 700);
    },
    async anchor(el) { const o = await api("POST", `/v1/pools/${el.dataset.pool}/anchor`); say(`Anchored ${o.anchored} records.`); setTimeout(() => location.reload(), 700); },
    async train(el) { say("Training…"); const o = await api("POST", `/v1/pools/${el.dataset.pool}/models`, {}); say(`Model v${o.version} registered.`); setTimeout(() => location.reload(), 700); },
    async rollback(el) { const o = await api("POST", `/v1/pools/${el.dataset.pool}/versions/rollback`); say(`Version ${o.version} serves again.`); setTimeout(() => location.reload(), 700); },
    async "close-epoch"(el) {
      say("Closing the epoch: redeeming vouchers and posting the root…");
      const o = await api("POST", `/v1/pools/${el.dataset.pool}/epochs`, undefined, { "Idempotency-Key": uuid() });
      say(`Epoch ${o.epoch} closed: root ${o.root.slice(0, 12)}…`); setTimeout(() => location.reload(), 900);
    },
    async "advance-time"() { await api("POST", "/v1/dev/advance-time?seconds=3601"); say("Chain time advanced."); setTimeout(() => location.reload(), 500); },
    async rate(el) { await api("POST", `/v1/calls/${el.dataset.seq}/feedback`, { rating: Number(el.dataset.rating) }); location.reload(); },
  };

  function guard(fn) {
    return async (...args) => {
      try { await fn(...args); } catch (err) { say(err.message || String(err), true); }
    };
  }

  document.addEventListener("DOMContentLoaded", () => {
    wallet.restore();
    const group = $("#dev-wallets");
    if (group) {
      for (const w of data.devWallets) {
        const opt = document.createElement("option");
        opt.value = w.address;
        opt.textContent = `TEST KEY · ${w.name} (${w.role}) ${w.address.slice(0, 8)}…`;
        group.appendChild(opt);
      }
      const last = localStorage.getItem(CHOICE);
      if (last) $("#wallet-choice").value = last;
    }
    document.body.addEventListener("click", (ev) => {
      const el = ev.target.closest("[data-action]");
      if (el && actions[el.dataset.action]) { ev.preventDefault(); guard(actions[el.dataset.action])(el); }
    });
    const submitForm = $("#submit-form");
    if (submitForm) submitForm.addEventListener("submit", (ev) => { ev.preventDefault(); guard(submitRecords)(submitForm); });
    const tryForm = $("#try-form");
    if (tryForm) tryForm.addEventListener("submit", (ev) => { ev.preventDefault(); guard(tryCall)(tryForm); });
    for (const form of document.querySelectorAll(".deposit-form")) {
      form.addEventListener("submit", (ev) => { ev.preventDefault(); guard(deposit)(form); });
    }
  });
})();
