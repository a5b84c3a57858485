// checks.jsx -- the answer of a connection test (a mailbox's IMAP login
// and folder, the smarthost's EHLO/STARTTLS/AUTH): {"ok", "steps":
// [{"step", "ok", "detail"}]} shown as the steps in order, each passed or
// failed in words.
export function CheckResult({ id, result }) {
    if (!result)
        return null;
    const steps = Array.isArray(result.steps) ? result.steps : [];
    const failed = steps.find((s) => !s.ok);
    return (
        <div class={`check-result ${result.ok ? 'passed' : 'failed'}`} id={id} role="status">
            <p class="verdict">
                {result.ok ? 'The connection works.'
                           : `The connection failed${failed ? ` at “${failed.step}”` : ''}.`}
            </p>
            {steps.length ? (
                <ol class="steps">
                    {steps.map((s, i) => (
                        <li key={i} class={s.ok ? 'step-ok' : 'step-bad'}>
                            <span class="step-mark">{s.ok ? 'Passed' : 'Failed'}:</span>{' '}
                            <strong>{s.step}</strong>{s.detail ? <> — {s.detail}</> : null}
                        </li>
                    ))}
                </ol>
            ) : null}
        </div>
    );
}
