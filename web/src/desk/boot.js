// boot.js -- the first view, and what waits until it is on screen.
//
// The desk's first screen (the inbox's first page, or whichever screen
// the address names) must not wait for anything it does not show: the
// OpenAPI document (caps.js), the saved views, the counts, the live
// channel, plugin probes and the other screens' code are asked for only
// once the first screen has drawn its data.  The screen says so with
// firstViewShown(); afterFirstView(fn) runs fn then -- after the browser
// has painted that frame, so the work queued behind it cannot delay the
// paint -- or at once (in a task of its own) when that moment is past.
// No timer decides it.

let shown = false;
let ran = false;
const waiting = [];

function runWaiting() {
    ran = true;
    for (const fn of waiting.splice(0))
        fn();
}

export function firstViewShown() {
    if (shown)
        return;
    shown = true;
    if (typeof performance !== 'undefined' && performance.mark)
        performance.mark('desk:first-view');
    // a hidden tab draws no frames: nothing to wait for there
    if (document.visibilityState === 'hidden' || typeof requestAnimationFrame !== 'function')
        setTimeout(runWaiting, 0);
    else
        requestAnimationFrame(() => setTimeout(runWaiting, 0));
}

export function afterFirstView(fn) {
    if (ran)
        setTimeout(fn, 0);
    else
        waiting.push(fn);
}
