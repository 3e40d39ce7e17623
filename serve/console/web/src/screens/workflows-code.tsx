// The workflow JSON editor: CodeMirror 6 (basicSetup, JSON highlighting, lint markers placed by
// the compiler's diagnostics), labelled for screen readers.
import { json } from "@codemirror/lang-json";
import { type Diagnostic as LintDiagnostic, lintGutter, setDiagnostics } from "@codemirror/lint";
import { Compartment, EditorState, Transaction } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { basicSetup } from "codemirror";
import { useEffect, useRef } from "preact/hooks";
import { lineAndColumn, parseErrorAt, placeOfPath } from "./workflows-jsonpath";

export interface Diagnostic {
  severity: "error" | "warning";
  code: string;
  message: string;
  path: string;
  suggestion?: string | null;
}

/** What the page can do with the editor. */
export interface EditorHandle {
  text(): string;
  setText(text: string): void;
  /** Put the cursor at the place of a JSON path and focus the editor. */
  goToPath(path: string): void;
  goToOffset(offset: number): void;
  /** Lint markers for these diagnostics (and, when the JSON does not parse, that error). */
  mark(diagnostics: Diagnostic[], parseError?: { at: number; message: string } | null): void;
  /** Where the JSON goes wrong, for a document that does not parse. */
  parseError(): { at: number; line: number; column: number };
}

export function CodeEditor({
  initial,
  readOnly,
  label,
  describedBy,
  onReady,
  onChange,
  onCursor,
}: {
  initial: string;
  readOnly: boolean;
  label: string;
  describedBy?: string;
  onReady: (handle: EditorHandle) => void;
  onChange: () => void;
  /** The cursor's line and column (1-based), after every move. */
  onCursor: (line: number, column: number) => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const editable = useRef(new Compartment());
  const callbacks = useRef({ onChange, onCursor });
  callbacks.current = { onChange, onCursor };

  useEffect(() => {
    const attributes: Record<string, string> = { "aria-label": label };
    if (describedBy) attributes["aria-describedby"] = describedBy;
    const created = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: initial,
        extensions: [
          basicSetup,
          json(),
          lintGutter(),
          editable.current.of(EditorState.readOnly.of(readOnly)),
          EditorView.contentAttributes.of(attributes),
          EditorView.updateListener.of((update) => {
            // A text the page sets (a loaded version) is no change of the person's.
            if (update.docChanged && !update.transactions.some((t) => t.annotation(Transaction.userEvent) === "load"))
              callbacks.current.onChange();
            if (update.docChanged || update.selectionSet) {
              const place = lineAndColumn(update.state, update.state.selection.main.head);
              callbacks.current.onCursor(place.line, place.column);
            }
          }),
        ],
      }),
    });
    view.current = created;
    const handle: EditorHandle = {
      text: () => created.state.doc.toString(),
      setText: (text) =>
        created.dispatch({
          changes: { from: 0, to: created.state.doc.length, insert: text },
          selection: { anchor: 0 },
          annotations: Transaction.userEvent.of("load"),
        }),
      goToPath: (path) => {
        const place = placeOfPath(created.state, path);
        created.dispatch({ selection: { anchor: place.cursor }, scrollIntoView: true });
        created.focus();
      },
      goToOffset: (offset) => {
        created.dispatch({ selection: { anchor: offset }, scrollIntoView: true });
        created.focus();
      },
      mark: (diagnostics, parseError) => {
        const marks: LintDiagnostic[] = diagnostics.map((d) => {
          const place = placeOfPath(created.state, d.path);
          return {
            from: place.from,
            to: Math.max(place.to, place.from),
            severity: d.severity,
            source: d.code,
            message: d.message + (d.suggestion ? ` (${d.suggestion})` : ""),
          };
        });
        if (parseError) {
          const to = Math.min(parseError.at + 1, created.state.doc.length);
          marks.push({ from: parseError.at, to, severity: "error", source: "json", message: parseError.message });
        }
        created.dispatch(setDiagnostics(created.state, marks));
      },
      parseError: () => {
        const at = parseErrorAt(created.state);
        return { at, ...lineAndColumn(created.state, at) };
      },
    };
    onReady(handle);
    return () => created.destroy();
  }, []);

  useEffect(() => {
    view.current?.dispatch({ effects: editable.current.reconfigure(EditorState.readOnly.of(readOnly)) });
  }, [readOnly]);

  return <div class="workflow-editor" ref={host} />;
}
