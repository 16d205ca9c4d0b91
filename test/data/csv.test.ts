import { test } from "node:test";
import assert from "node:assert/strict";
import { csvRow, parseCsv } from "../../data/csv.ts";

test("parseCsv: quoted fields, doubled quotes, embedded newlines, CRLF rows, start lines", () => {
  const text = 'a,"b,c",d\r\n"multi\nline ""q""",x,\r\nlast,row,here';
  const { rows, error } = parseCsv(text);
  assert.equal(error, undefined);
  assert.deepEqual(rows.map((r) => r.fields), [["a", "b,c", "d"], ['multi\nline "q"', "x", ""], ["last", "row", "here"]]);
  assert.deepEqual(rows.map((r) => r.line), [1, 2, 4]);
});

test("parseCsv: an unterminated quote is a syntax error at the line where the field starts", () => {
  const { rows, error } = parseCsv('ok,1\nbad,"never closed\nmore\n');
  assert.equal(rows.length, 1);
  assert.equal(error?.line, 2);
  assert.match(error!.message, /unterminated/);
});

test("parseCsv: text after a closing quote is a syntax error", () => {
  const { error } = parseCsv('"a"b,c\n');
  assert.equal(error?.line, 1);
});

test("csvRow round-trips through parseCsv", () => {
  const fields = ["plain", "with,comma", 'with "quote"', "with\nnewline", ""];
  assert.deepEqual(parseCsv(csvRow(fields) + "\n").rows[0].fields, fields);
});
