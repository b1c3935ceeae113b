"""A WebKitGTK page with a persistent profile, driven over stdin and stdout.

Usage: /usr/bin/python3 webkit_persistent.py URL DATA_DIR
(a Python with python3-gi; WebKitGTK's bindings: gir1.2-webkit2-4.1)

MiniBrowser under WebDriver (tests/lib/webkit.mjs) keeps all website data
in memory, so a test cannot kill it and find its IndexedDB again. This
harness opens one WebView whose website data lives under DATA_DIR (data/
and cache/), so a killed and restarted harness reopens the same store.

Protocol, one JSON object a line:
  stdin:  {"id": 1, "body": "<body of an async function>"}
  stdout: {"id": 1, "result": <its JSON value>} or {"id": 1, "error": "..."}
          {"event": "loaded"}, {"event": "load-failed", "error": "..."},
          {"event": "web-process-terminated", "reason": "..."}
Each body runs in the page's main world, its promise awaited (a body
whose document is replaced meanwhile gets an error). Scripts run
through the WebKit API are not subject to the page's Content-Security-
Policy. Closing stdin quits.

WebKit2 4.1 runs the web process unsandboxed unless asked to
(WebContext.set_sandbox_enabled), so no bubblewrap is needed, and all of
WebKit's processes stay in the harness's process group.
"""
import json
import os
import sys

import gi

gi.require_version('Gtk', '3.0')
gi.require_version('WebKit2', '4.1')
from gi.repository import Gio, GLib, Gtk, WebKit2  # noqa: E402


def send(message):
    print(json.dumps(message), flush=True)


# The ids of the commands still running. WebKit never answers a call whose
# document was replaced, so a navigation answers them with an error.
pending = set()


def answer(command_id, **outcome):
    if command_id in pending:
        pending.discard(command_id)
        send({'id': command_id, **outcome})


def open_view(url, data_dir):
    manager = WebKit2.WebsiteDataManager(
        base_data_directory=os.path.join(data_dir, 'data'),
        base_cache_directory=os.path.join(data_dir, 'cache'),
    )
    view = WebKit2.WebView.new_with_context(
        WebKit2.WebContext.new_with_website_data_manager(manager))
    failed = False

    def on_failed(_view, _event, uri, error):
        nonlocal failed
        failed = True
        send({'event': 'load-failed', 'error': f'{uri}: {error.message}'})
        return True  # no error page, whose load would finish as if all went well

    def on_changed(_view, event):
        nonlocal failed
        if event == WebKit2.LoadEvent.STARTED:
            failed = False
        elif event == WebKit2.LoadEvent.COMMITTED:
            for command_id in list(pending):
                answer(command_id, error='the page navigated away')
        elif event == WebKit2.LoadEvent.FINISHED and not failed:
            send({'event': 'loaded'})

    view.connect('load-failed', on_failed)
    view.connect('load-changed', on_changed)
    view.connect('web-process-terminated',
                 lambda _view, reason: send({'event': 'web-process-terminated', 'reason': reason.value_nick}))
    window = Gtk.Window(default_width=1280, default_height=900)
    window.connect('destroy', Gtk.main_quit)
    window.add(view)
    window.show_all()
    view.load_uri(url)
    return view


def run(view, command):
    """Runs one command's body; its answer is sent when the promise settles."""
    def done(_view, result):
        try:
            value = view.call_async_javascript_function_finish(result)
            text = None if value.is_undefined() else value.to_json(0)
            answer(command['id'], result=None if text is None else json.loads(text))
        except GLib.Error as e:
            answer(command['id'], error=e.message)

    pending.add(command['id'])
    view.call_async_javascript_function(command['body'], -1, None, None, None, None, done)


def read_commands(view):
    lines = Gio.DataInputStream.new(Gio.UnixInputStream.new(sys.stdin.fileno(), False))

    def on_line(_stream, result):
        line, _length = lines.read_line_finish_utf8(result)
        if line is None:
            Gtk.main_quit()
            return
        if line.strip():
            try:
                command = json.loads(line)
            except json.JSONDecodeError as e:
                send({'id': None, 'error': f'not a JSON command: {e}'})
            else:
                run(view, command)
        lines.read_line_async(GLib.PRIORITY_DEFAULT, None, on_line)

    lines.read_line_async(GLib.PRIORITY_DEFAULT, None, on_line)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    url, data_dir = sys.argv[1:]
    view = open_view(url, data_dir)
    read_commands(view)
    Gtk.main()


if __name__ == '__main__':
    main()
