// Where a diagnostic's JSON path (/nodes/2/parameters/url) is in the editor's text, found by
// walking the JSON syntax tree that CodeMirror's json language parses (never by searching the
// text), and where a document that does not parse goes wrong.
import { ensureSyntaxTree } from "@codemirror/language";
import type { EditorState } from "@codemirror/state";
import { jsonLanguage } from "@codemirror/lang-json";

type Tree = ReturnType<typeof jsonLanguage.parser.parse>;
type SyntaxNode = Tree["topNode"];

const VALUE_TYPES = new Set(["Object", "Array", "String", "Number", "True", "False", "Null"]);

/** Where a path points: the whole range of the value, and where the cursor goes (its key). */
export interface Place {
  from: number;
  to: number;
  cursor: number;
  /** False when the path goes deeper than the document (the nearest existing part is given). */
  exact: boolean;
}

function tree(state: EditorState): Tree {
  // The whole document parsed (the editor may have parsed only the visible part so far).
  return ensureSyntaxTree(state, state.doc.length, 500) ?? jsonLanguage.parser.parse(state.doc.toString());
}

function children(node: SyntaxNode): SyntaxNode[] {
  const found: SyntaxNode[] = [];
  for (let child = node.firstChild; child; child = child.nextSibling) found.push(child);
  return found;
}

function valueOf(nodes: SyntaxNode[]): SyntaxNode | undefined {
  return nodes.find((n) => VALUE_TYPES.has(n.name));
}

/** A JSON pointer's segments, unescaped (~1 is "/", ~0 is "~"). */
export function segments(path: string): string[] {
  if (path === "" || path === "/") return [];
  return path
    .replace(/^\//, "")
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function keyText(state: EditorState, name: SyntaxNode): string {
  const raw = state.doc.sliceString(name.from, name.to);
  try {
    return String(JSON.parse(raw));
  } catch {
    return raw.replace(/^"|"$/g, "");
  }
}

/** The place of ``path`` in the document, or of the deepest part of it that exists. */
export function placeOfPath(state: EditorState, path: string): Place {
  const top = tree(state).topNode;
  let node = valueOf(children(top));
  if (!node) return { from: 0, to: 0, cursor: 0, exact: false };
  let cursor = node.from;
  for (const segment of segments(path)) {
    let next: SyntaxNode | undefined;
    let key: SyntaxNode | undefined;
    if (node.name === "Object") {
      for (const property of children(node).filter((n) => n.name === "Property")) {
        const parts = children(property);
        const name = parts.find((n) => n.name === "PropertyName");
        if (name && keyText(state, name) === segment) {
          key = name;
          next = valueOf(parts.slice(parts.indexOf(name) + 1));
          if (!next) return { from: name.from, to: name.to, cursor: name.from, exact: false };
          break;
        }
      }
    } else if (node.name === "Array" && /^\d+$/.test(segment)) {
      next = children(node).filter((n) => VALUE_TYPES.has(n.name))[Number(segment)];
    }
    if (!next) return { from: node.from, to: node.to, cursor, exact: false };
    node = next;
    cursor = key ? key.from : next.from;
  }
  return { from: node.from, to: node.to, cursor, exact: true };
}

/** Where a document that JSON.parse refuses goes wrong: the first error in its syntax tree. */
export function parseErrorAt(state: EditorState): number {
  let at = -1;
  tree(state).iterate({
    enter(node) {
      if (at >= 0) return false;
      if (node.type.isError) {
        at = node.from;
        return false;
      }
      return undefined;
    },
  });
  return at >= 0 ? at : state.doc.length;
}

/** "line 3, column 7" for an offset. */
export function lineAndColumn(state: EditorState, offset: number): { line: number; column: number } {
  const line = state.doc.lineAt(offset);
  return { line: line.number, column: offset - line.from + 1 };
}
