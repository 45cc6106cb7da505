// Reads a peer's SETTINGS frame (RFC 9113 §6.5) into its settings, with the checks the RFC makes
// connection errors, and the change of SETTINGS_INITIAL_WINDOW_SIZE every open stream must apply.
import { H2Code, maxMaxFrameBytes, maxWindowBytes, minMaxFrameBytes, SettingId, type H2Settings } from './frames.js';

export type SettingsRead =
  | { readonly ok: true; readonly settings: H2Settings; readonly windowDelta: number }
  | { readonly ok: false; readonly code: number; readonly reason: string };

export class SettingsReader {
  private readonly current: H2Settings;
  private readonly role: 'client' | 'server';

  constructor(current: H2Settings, role: 'client' | 'server') {
    this.current = current;
    this.role = role;
  }

  read(payload: Buffer): SettingsRead {
    if (payload.length % 6 !== 0) return { ok: false, code: H2Code.FrameSizeError, reason: 'SETTINGS length not a multiple of 6' };
    const next: H2Settings = { ...this.current };
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      switch (id) {
        case SettingId.HeaderTableSize:
          next.headerTableSize = value;
          break;
        case SettingId.EnablePush:
          if (value > 1) return { ok: false, code: H2Code.ProtocolError, reason: 'SETTINGS_ENABLE_PUSH not 0 or 1' };
          if (this.role === 'client' && value === 1) return { ok: false, code: H2Code.ProtocolError, reason: 'a server sent SETTINGS_ENABLE_PUSH 1' };
          next.enablePush = value === 1;
          break;
        case SettingId.MaxConcurrentStreams:
          next.maxConcurrentStreams = value;
          break;
        case SettingId.InitialWindowSize:
          if (value > maxWindowBytes) return { ok: false, code: H2Code.FlowControlError, reason: 'SETTINGS_INITIAL_WINDOW_SIZE past 2^31-1' };
          next.initialWindowSize = value;
          break;
        case SettingId.MaxFrameSize:
          if (value < minMaxFrameBytes || value > maxMaxFrameBytes) return { ok: false, code: H2Code.ProtocolError, reason: `SETTINGS_MAX_FRAME_SIZE ${value} out of range` };
          next.maxFrameSize = value;
          break;
        case SettingId.MaxHeaderListSize:
          next.maxHeaderListSize = value;
          break;
        default:
          break; // RFC 9113 §6.5.2: unknown settings are ignored
      }
    }
    return { ok: true, settings: next, windowDelta: next.initialWindowSize - this.current.initialWindowSize };
  }
}
