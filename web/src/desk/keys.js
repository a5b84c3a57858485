// keys.js -- keyboard shortcuts.  One listener on the document; the screen
// on display registers its keys with useKeys(), the app its global ones.
// Keys typed into a text field, a select or a button's menu are left
// alone (Escape excepted, which leaves the field), as are keys with Ctrl,
// Alt or Meta, so the browser's and the screen reader's own keys work.

import { useEffect, useRef } from 'preact/hooks';

// Every shortcut, for the help dialog ('?').
export const SHORTCUTS = [
    ['Anywhere', [
        ['?', 'Show these shortcuts'],
        ['/', 'Search tickets'],
        ['g then i', 'Go to the inbox'],
    ]],
    ['Ticket list', [
        ['j / k', 'Next / previous ticket (pages on at the ends)'],
        ['Enter or o', 'Open the ticket'],
        ['x', 'Select the ticket for a bulk action'],
        ['a', 'Assign to me (the selected tickets, else this one)'],
        ['s', 'Set the status …'],
        ['p', 'Set the priority …'],
        ['[ / ]', 'Previous / next page'],
    ]],
    ['Ticket', [
        ['r', 'Reply to the customer'],
        ['n', 'Add an internal note'],
        ['a', 'Assign to me'],
        ['s', 'Set the status …'],
        ['p', 'Set the priority …'],
        ['j / k', 'Next / previous message'],
        ['u or Escape', 'Back to the list'],
        ['Ctrl+Enter', 'Send the reply or note'],
    ]],
    ['Menus', [
        ['↑ / ↓, 1–5', 'Choose'],
        ['Enter', 'Apply'],
        ['Escape', 'Close'],
    ]],
];

const stack = [];

export function typing(target) {
    if (!target || !target.tagName)
        return false;
    const t = target.tagName;
    return t === 'INPUT' || t === 'TEXTAREA' || t === 'SELECT' || target.isContentEditable
        || (target.closest && target.closest('[role="menu"]') !== null);
}

export function installKeys() {
    let prefix = null;
    document.addEventListener('keydown', (e) => {
        if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented)
            return;
        // an open dialog (the shortcut list) keeps its keys, Escape too
        if (e.target && e.target.closest && e.target.closest('dialog[open]'))
            return;
        if (typing(e.target) && e.key !== 'Escape')
            return;
        let key = e.key;
        if (prefix) {
            key = `${prefix} ${key}`;
            prefix = null;
        } else if (key === 'g') {
            prefix = 'g';
            setTimeout(() => { prefix = null; }, 1500);
            e.preventDefault();
            return;
        }
        for (let i = stack.length - 1; i >= 0; i--) {
            const fn = stack[i].current[key];
            if (fn) {
                if (fn(e) !== false)
                    e.preventDefault();
                return;
            }
        }
    });
}

// useKeys({ j: fn, k: fn, ... }): active while the component is mounted;
// the latest mounted wins.  A handler returning false lets the key pass.
export function useKeys(map) {
    const ref = useRef(map);
    ref.current = map;
    useEffect(() => {
        stack.push(ref);
        return () => {
            const i = stack.indexOf(ref);
            if (i >= 0)
                stack.splice(i, 1);
        };
    }, []);
}
