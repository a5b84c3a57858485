// menu.jsx -- a small menu of choices (status, priority) that opens from a
// button or a shortcut: arrow keys and digits choose, Enter applies,
// Escape closes and gives the focus back.  ARIA menu pattern.

import { useLayoutEffect, useRef } from 'preact/hooks';

export function ChoiceMenu({ id, label, options, value, onChoose, onClose }) {
    const ref = useRef(null);
    // before the menu is painted: a key typed right after the one that
    // opened it already lands in it
    useLayoutEffect(() => {
        const items = [...ref.current.querySelectorAll('[role="menuitemradio"]')];
        const cur = items.find((b) => b.dataset.value === value) || items[0];
        if (cur)
            cur.focus();
        const away = (e) => {
            if (ref.current && !ref.current.contains(e.target))
                onClose(false);
        };
        document.addEventListener('mousedown', away);
        return () => document.removeEventListener('mousedown', away);
    }, []);
    const onKeyDown = (e) => {
        const items = [...ref.current.querySelectorAll('[role="menuitemradio"]')];
        const i = items.indexOf(document.activeElement);
        if (e.key === 'ArrowDown' || e.key === 'j') {
            items[(i + 1) % items.length].focus();
        } else if (e.key === 'ArrowUp' || e.key === 'k') {
            items[(i - 1 + items.length) % items.length].focus();
        } else if (e.key === 'Home') {
            items[0].focus();
        } else if (e.key === 'End') {
            items[items.length - 1].focus();
        } else if (e.key === 'Escape' || e.key === 'Tab') {
            onClose(true);
        } else if (/^[1-9]$/.test(e.key) && Number(e.key) <= items.length) {
            onChoose(options[Number(e.key) - 1].value);
        } else {
            return;
        }
        e.preventDefault();
        e.stopPropagation();
    };
    return (
        <div class="menu" role="menu" id={id} aria-label={label} ref={ref} onKeyDown={onKeyDown}>
            {options.map((o, i) => (
                <button type="button" role="menuitemradio" aria-checked={o.value === value ? 'true' : 'false'}
                        data-value={o.value} tabindex="-1" onClick={() => onChoose(o.value)}>
                    <span class="menu-key" aria-hidden="true">{i + 1}</span> {o.label}
                </button>
            ))}
        </div>
    );
}

// A button that opens a ChoiceMenu below it.  `open`/`setOpen` belong to
// the caller, so a shortcut can open it too.
export function MenuButton({ id, label, text, options, value, open, setOpen, onChoose, disabled }) {
    const btn = useRef(null);
    const close = (refocus) => {
        setOpen(false);
        if (refocus && btn.current)
            btn.current.focus();
    };
    return (
        <span class="menu-wrap">
            <button type="button" ref={btn} aria-haspopup="menu" aria-expanded={open ? 'true' : 'false'}
                    aria-controls={open ? id : undefined} disabled={disabled} onClick={() => setOpen(!open)}>
                {text} <span aria-hidden="true">▾</span>
            </button>
            {open && <ChoiceMenu id={id} label={label} options={options} value={value} onClose={close}
                                 onChoose={(v) => { close(true); onChoose(v); }} />}
        </span>
    );
}
