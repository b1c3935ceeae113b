// Types of `meganet/widget`: importing it defines <meganet-widget>, the
// consent card that lets a site's visitors contribute storage (see the
// package README). The status shape mirrors STATUS in www/widget-protocol.js.

/** The latest status the widget's frame reported. */
export interface WidgetStatus {
  readonly type: 'meganet:status';
  readonly state: 'ready' | 'asking' | 'standby' | 'starting' | 'active' | 'paused' | 'left' | 'failed';
  readonly node: 'off' | 'connecting' | 'connected' | 'unreachable';
  /** Peers connected. */
  readonly peers: number;
  readonly contributedBytes: number;
  readonly quotaBytes: number;
  /** Plain-words lines for people. */
  readonly storing: string;
  readonly serving: string;
  readonly persisted: boolean | null;
  /** Messages the frame refused. */
  readonly rejected: number;
  readonly error: string;
  /** An error code ('' when none). */
  readonly errorCode: string;
}

/** The <meganet-widget> element. Attribute `private`: the visitor's peer uses relays only. */
export interface MeganetWidgetElement extends HTMLElement {
  /** The latest accepted status from the frame (null before any). */
  readonly status: WidgetStatus | null;
}

declare global {
  interface HTMLElementTagNameMap {
    'meganet-widget': MeganetWidgetElement;
  }
}
