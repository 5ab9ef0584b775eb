// Drives the official @coreviz/sdk (built from its source by run.sh) against a live server:
// every AI method, an upload, findSimilar with each model the SDK names, an edit kept as a
// version (mediaId, which the SDK does not send: a plain fetch) and listVersions.
const { CoreViz } = require('./dist/index.js');
const fs = require('fs');
const [baseUrl, apiKey, photo, withEndpoint] = process.argv.slice(2);
const sdk = new CoreViz({ baseUrl, apiKey });
const img = 'data:image/jpeg;base64,' + fs.readFileSync(photo).toString('base64');
async function step(name, fn) {
  try { const out = await fn(); console.log('OK  ', name, JSON.stringify(out).slice(0, 300)); return out; }
  catch (e) { console.log('FAIL', name, '->', e.message); }
}
(async () => {
  await step('describe', () => sdk.describe(img));
  await step('tag options', () => sdk.tag(img, { prompt: 'what?', options: ['cat', 'dog', 'person', 'car'] }));
  await step('tag single', () => sdk.tag(img, { prompt: 'what?', options: ['cat', 'dog', 'person', 'car'], multiple: false }));
  await step('tag free', () => sdk.tag(img, { prompt: '' }));
  await step('embed', async () => (await sdk.embed(img)).embedding.length);
  await step('edit', async () => (await sdk.edit(img, { prompt: 'make it night' })).slice(0, 40));
  await step('edit png 16:9', async () => (await sdk.edit(img, { prompt: 'x', aspectRatio: '16:9', outputFormat: 'png', model: 'seedream-4' })).slice(0, 40));
  await step('generate', async () => (await sdk.generate('a red bicycle')).slice(0, 40));
  await step('generate refs', async () => (await sdk.generate('both', { referenceImages: [img, img], aspectRatio: '21:9' })).slice(0, 40));
  const cols = await step('collections.list', () => sdk.collections.list());
  let col = cols && cols[0];
  if (!col) col = await step('collections.create', () => sdk.collections.create('SDK check'));
  const up = await step('upload', () => sdk.media.upload(photo, { collectionId: col.id }));
  // let the worker process it
  let media;
  for (let i = 0; i < 60; i++) {
    media = await sdk.media.get(up.mediaId);
    const objs = (media.frames || []).flatMap(f => f.objects || []);
    if (objs.some(o => o.type === 'face')) break;
    await new Promise(r => setTimeout(r, 2000));
  }
  const objs = (media.frames || []).flatMap(f => f.objects || []);
  const face = objs.find(o => o.type === 'face');
  console.log('objects', objs.map(o => o.type));
  if (face) {
    for (const model of [undefined, 'faces', 'objects', 'image', 'shoeprints']) {
      const ok = await step('findSimilar ' + model, async () => (await sdk.media.findSimilar(col.id, face.id, { model })).media.length);
      if (ok === undefined) {  // the SDK shows the HTTP reason (`error`); a person reads `message`
        const q = new URLSearchParams({ similarToObjectId: face.id, similarToObjectModel: model });
        const r = await fetch(`${baseUrl}/api/dataset/${col.id}/media?${q}`, { headers: { 'x-api-key': apiKey } });
        console.log('     message:', r.status, (await r.json()).message);
      }
    }
  }
  await step('edit as version (raw, mediaId)', async () => {
    const r = await fetch(baseUrl + '/api/ai/edit', { method: 'POST', headers: { 'x-api-key': apiKey, 'Content-Type': 'application/json' },
      body: JSON.stringify({ prompt: 'add snow', aspectRatio: 'match_input_image', outputFormat: 'jpg', model: 'flux-kontext-max', mediaId: up.mediaId }) });
    const j = await r.json(); return [r.status, j.mediaId, j.message];
  });
  await step('listVersions', async () => (await sdk.media.listVersions(up.mediaId)).map(v => [v.versionNumber, v.isActiveVersion, v.metadata && v.metadata.ai]));
})();
