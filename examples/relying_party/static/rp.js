// The example relying party's only script: when the service's widget is done (or failed), post what it
// said to this site's backend, which decides. Nothing here is trusted: the backend checks the signed
// result itself (and, after enrolment, asks the service).
const form = document.getElementById("voice-result");

function submit(fields) {
  for (const [name, value] of Object.entries(fields)) form.elements.namedItem(name).value = value ?? "";
  form.submit();
}

document.addEventListener("speakerverify-done", (event) => {
  submit({ result_token: event.detail.result_token, error: "" });
});

document.addEventListener("speakerverify-error", (event) => {
  submit({ result_token: "", error: event.detail.message });
});
