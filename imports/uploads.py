"""The upload handler of the import page: a file larger than settings.IMPORT_MAX_BYTES is
refused as it streams in, never read whole (into memory or onto disk).

Installed by the upload view itself (imports.views.import_upload) ahead of Django's own
handlers. It stops the upload at the first chunk past the limit, or at once when the
request's declared length already says so, and marks the request so the view can show
imports.services.too_large_message() beside the file field.
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

# The form's other fields and the multipart boundaries: a request longer than the limit by
# more than this cannot hold a file within it.
FORM_ALLOWANCE = 64 * 1024
TOO_LARGE = "import_upload_too_large"


def upload_was_too_large(request) -> bool:
    return getattr(request, TOO_LARGE, False)


class ImportSizeLimitHandler(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # (FileUploadHandler's own `content_length` is the file's, which browsers omit.)
        self.request_length = content_length or 0

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0
        if self.request_length > settings.IMPORT_MAX_BYTES + FORM_ALLOWANCE:
            self._refuse()

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.IMPORT_MAX_BYTES:
            self._refuse()
        return raw_data  # the next handler (memory or temporary file) keeps it

    def file_complete(self, file_size):
        return None

    def _refuse(self):
        setattr(self.request, TOO_LARGE, True)
        # Not reading the rest: the answer goes out without the remaining gigabytes.
        raise StopUpload(connection_reset=True)
