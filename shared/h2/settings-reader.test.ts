import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultSettings, H2Code, SettingId } from './frames.js';
import { SettingsReader } from './settings-reader.js';

function payload(entries: ReadonlyArray<readonly [number, number]>): Buffer {
  const b = Buffer.alloc(6 * entries.length);
  entries.forEach(([id, value], i) => {
    b.writeUInt16BE(id, 6 * i);
    b.writeUInt32BE(value, 6 * i + 2);
  });
  return b;
}

function readAs(role: 'client' | 'server', entries: ReadonlyArray<readonly [number, number]>) {
  return new SettingsReader(defaultSettings(), role).read(payload(entries));
}

function failsWith(r: ReturnType<typeof readAs>, code: number): void {
  assert.equal(r.ok, false, 'expected the SETTINGS to be rejected');
  if (!r.ok) assert.equal(r.code, code);
}

describe('SettingsReader', () => {
  it('reads every known setting, later entries winning, and leaves the current settings untouched', () => {
    const current = defaultSettings();
    const r = new SettingsReader(current, 'server').read(payload([
      [SettingId.HeaderTableSize, 100], [SettingId.EnablePush, 1], [SettingId.MaxConcurrentStreams, 7],
      [SettingId.InitialWindowSize, 1000], [SettingId.MaxFrameSize, 20_000], [SettingId.MaxHeaderListSize, 5000],
      [SettingId.MaxConcurrentStreams, 9],
    ]));
    assert.ok(r.ok);
    assert.deepEqual(r.settings, { headerTableSize: 100, enablePush: true, maxConcurrentStreams: 9, initialWindowSize: 1000, maxFrameSize: 20_000, maxHeaderListSize: 5000 });
    assert.equal(r.windowDelta, 1000 - 65_535);
    assert.deepEqual(current, defaultSettings());
  });

  it('accepts an empty SETTINGS and reports no window change', () => {
    const r = readAs('client', []);
    assert.ok(r.ok);
    assert.deepEqual(r.settings, defaultSettings());
    assert.equal(r.windowDelta, 0);
  });

  it('ignores unknown identifiers (RFC 9113 §6.5.2)', () => {
    const r = readAs('client', [[0x0, 1], [0x8, 1], [0xffff, 123]]);
    assert.ok(r.ok);
    assert.deepEqual(r.settings, defaultSettings());
  });

  it('rejects a length not a multiple of 6 with FRAME_SIZE_ERROR', () => {
    for (const n of [1, 5, 7, 13]) failsWith(new SettingsReader(defaultSettings(), 'server').read(Buffer.alloc(n)), H2Code.FrameSizeError);
  });

  it('accepts ENABLE_PUSH 0 or 1 from a client, rejects other values with PROTOCOL_ERROR', () => {
    assert.equal(readAs('server', [[SettingId.EnablePush, 0]]).ok, true);
    assert.equal(readAs('server', [[SettingId.EnablePush, 1]]).ok, true);
    failsWith(readAs('server', [[SettingId.EnablePush, 2]]), H2Code.ProtocolError);
  });

  it('rejects ENABLE_PUSH 1 from a server and accepts 0 (RFC 9113 §6.5.2)', () => {
    failsWith(readAs('client', [[SettingId.EnablePush, 1]]), H2Code.ProtocolError);
    const r = readAs('client', [[SettingId.EnablePush, 0]]);
    assert.ok(r.ok);
    assert.equal(r.settings.enablePush, false);
  });

  it('accepts INITIAL_WINDOW_SIZE up to 2^31-1 and rejects more with FLOW_CONTROL_ERROR', () => {
    const r = readAs('server', [[SettingId.InitialWindowSize, 0x7fff_ffff]]);
    assert.ok(r.ok);
    assert.equal(r.windowDelta, 0x7fff_ffff - 65_535);
    failsWith(readAs('server', [[SettingId.InitialWindowSize, 0x8000_0000]]), H2Code.FlowControlError);
    const zero = readAs('server', [[SettingId.InitialWindowSize, 0]]);
    assert.ok(zero.ok);
    assert.equal(zero.windowDelta, -65_535);
  });

  it('reports the window delta against the current settings, not the defaults', () => {
    const current = { ...defaultSettings(), initialWindowSize: 1_000_000 };
    const r = new SettingsReader(current, 'client').read(payload([[SettingId.InitialWindowSize, 16_384]]));
    assert.ok(r.ok);
    assert.equal(r.windowDelta, 16_384 - 1_000_000);
  });

  it('accepts MAX_FRAME_SIZE from 2^14 to 2^24-1 and rejects outside with PROTOCOL_ERROR', () => {
    assert.equal(readAs('server', [[SettingId.MaxFrameSize, 16_384]]).ok, true);
    assert.equal(readAs('server', [[SettingId.MaxFrameSize, 16_777_215]]).ok, true);
    failsWith(readAs('server', [[SettingId.MaxFrameSize, 16_383]]), H2Code.ProtocolError);
    failsWith(readAs('server', [[SettingId.MaxFrameSize, 16_777_216]]), H2Code.ProtocolError);
  });

  it('fails on a bad entry even after good ones', () => {
    failsWith(readAs('server', [[SettingId.InitialWindowSize, 100], [SettingId.MaxFrameSize, 1]]), H2Code.ProtocolError);
  });
});
