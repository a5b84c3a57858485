// files.js -- files a customer attaches, read in the browser and sent to
// the API as base64 inside the JSON body (POST /portal/tickets,
// /portal/tickets/{id}/replies).
export const MAX_FILES = 10;
export const MAX_BYTES = 10 * 1024 * 1024;   // per file; the server has its own limit

export function readFile(file) {
    return new Promise((resolve, reject) => {
        const r = new FileReader();
        r.onerror = () => reject(r.error || new Error('the file could not be read'));
        r.onload = () => {
            const s = String(r.result);
            const comma = s.indexOf(',');
            resolve({ filename: file.name, content_type: file.type || 'application/octet-stream',
                      data: comma >= 0 ? s.slice(comma + 1) : '' });
        };
        r.readAsDataURL(file);
    });
}

// The chosen files as API attachments, or a sentence saying what is wrong.
export async function attachments(files) {
    const list = [...(files || [])];
    if (list.length > MAX_FILES)
        return { error: `At most ${MAX_FILES} files at once.` };
    for (const f of list) {
        if (f.size === 0)
            return { error: `${f.name} is empty.` };
        if (f.size > MAX_BYTES)
            return { error: `${f.name} is larger than ${MAX_BYTES / 1024 / 1024} MB.` };
    }
    return { items: await Promise.all(list.map(readFile)) };
}
