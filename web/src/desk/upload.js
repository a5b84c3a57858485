// upload.js -- a file to POST /api/v1/attachments, with its progress.
//
// The body of the request is the file itself (no form to parse), its
// name in ?filename=; the answer is the upload a reply or note names in
// attachment_ids.  XMLHttpRequest rather than fetch(): only it reports
// the progress of what it sends.  A refusal (413 over the size limit,
// 422 an empty file, 403) comes back as an ApiError like any other call.

import { API, ApiError, getCsrf } from './api.js';

// uploadFile(file, (sent, total) => ...) -> { id, filename, content_type, size }
// The promise has .abort() to cancel.
export function uploadFile(file, onProgress) {
    const xhr = new XMLHttpRequest();
    const p = new Promise((resolve, reject) => {
        xhr.open('POST', `${API}/attachments?filename=${encodeURIComponent(file.name || 'attachment')}`);
        xhr.withCredentials = true;
        xhr.setRequestHeader('Accept', 'application/json, application/problem+json');
        xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
        const csrf = getCsrf();
        if (csrf)
            xhr.setRequestHeader('X-CSRF-Token', csrf);
        xhr.upload.onprogress = (e) => {
            if (onProgress)
                onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
        };
        xhr.onload = () => {
            let json = null;
            try {
                json = JSON.parse(xhr.responseText);
            } catch {
                json = null;
            }
            if (xhr.status === 201 && json)
                resolve(json);
            else
                reject(new ApiError(xhr.status, json, xhr.getResponseHeader('Retry-After')));
        };
        xhr.onerror = () => reject(new ApiError(0, null));
        xhr.onabort = () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
        xhr.send(file);
    });
    p.abort = () => xhr.abort();
    return p;
}
