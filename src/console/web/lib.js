// The libraries the console uses, in one place: Preact with hooks, and htm for templates.
import { h, render } from "./vendor-preact.js";
import { useCallback, useEffect, useRef, useState } from "./vendor-hooks.js";
import htm from "./vendor-htm.js";

export const html = htm.bind(h);
export { render, useCallback, useEffect, useRef, useState };
