// The viewer's frame cache: encoded frames for whole series, decoded bitmaps near each position.

// Encoded frames (PNG blobs) are kept for whole series (small); decoded bitmaps only for the
// few slices around each viewport's position (large). A frame that was prefetched is drawn
// from memory: the server is never waited on for it.
const BLOB_BUDGET = 400 * 1024 * 1024;
const BITMAP_LIMIT = 48;
const MAX_IN_FLIGHT = 4;

export class FrameCache {
  constructor() {
    this.entries = new Map(); // url -> {blob, headers, promise, bitmap, bitmapPromise, bytes}
    this.bytes = 0;
    this.bitmaps = [];
    this.inFlight = 0;
    this.sources = new Set(); // viewports that want frames, asked in turn
    this.failed = new Set(); // urls the server refused (e.g. undecodable pixel data): not retried
    this.stats = { fetched: 0, hits: 0, misses: 0 };
  }

  has(url) { const e = this.entries.get(url); return !!(e && e.blob); }

  touch(url, entry) { this.entries.delete(url); this.entries.set(url, entry); }

  fetch(url) {
    let entry = this.entries.get(url);
    if (entry) { this.touch(url, entry); return entry.promise; }
    entry = { blob: null, headers: null, bitmap: null, bitmapPromise: null, bytes: 0 };
    this.inFlight += 1;
    entry.promise = fetch(url, { credentials: "same-origin" }).then(async (response) => {
      if (!response.ok) {
        const data = await response.json().catch(() => ({}));
        throw new Error(data.detail || `HTTP ${response.status}`);
      }
      entry.headers = {
        wc: response.headers.get("X-Window-Center"), ww: response.headers.get("X-Window-Width"),
        spacing: response.headers.get("X-Pixel-Spacing"), spacingSource: response.headers.get("X-Spacing-Source"),
        size: response.headers.get("X-Image-Size"),
      };
      entry.blob = await response.blob();
      entry.bytes = entry.blob.size;
      this.bytes += entry.bytes;
      this.stats.fetched += 1;
      this.evict();
      return entry;
    }).catch((error) => { this.entries.delete(url); this.failed.add(url); throw error; })
      .finally(() => { this.inFlight -= 1; this.pump(); });
    this.entries.set(url, entry);
    return entry.promise;
  }

  async bitmap(url) {
    const entry = await this.fetch(url);
    if (!entry.bitmap) {
      if (!entry.bitmapPromise) {
        entry.bitmapPromise = createImageBitmap(entry.blob).then((bmp) => {
          entry.bitmap = bmp;
          this.bitmaps.push(entry);
          while (this.bitmaps.length > BITMAP_LIMIT) {
            const old = this.bitmaps.shift();
            if (old.bitmap) old.bitmap.close();
            old.bitmap = null; old.bitmapPromise = null;
          }
          return bmp;
        });
      }
      await entry.bitmapPromise;
    }
    return entry;
  }

  ready(url) { const e = this.entries.get(url); return e && e.bitmap ? e : null; }

  evict() {
    for (const [url, entry] of this.entries) {
      if (this.bytes <= BLOB_BUDGET) break;
      if (!entry.blob) continue;
      this.bytes -= entry.bytes;
      if (entry.bitmap) entry.bitmap.close();
      this.entries.delete(url);
    }
  }

  // Prefetch scheduler: each viewport lists the urls it wants, nearest first.
  pump() {
    while (this.inFlight < MAX_IN_FLIGHT) {
      let started = false;
      for (const source of this.sources) {
        const url = source.nextWanted();
        if (url) { this.fetch(url).then(() => source.onPrefetched(url)).catch(() => {}); started = true; }
        if (this.inFlight >= MAX_IN_FLIGHT) break;
      }
      if (!started) break;
    }
  }
}

// One cache for the page: the viewports share frames (compare mode shows the same series twice).
export const cache = new FrameCache();
