// Submit the form_post response at once; the button stays for browsers without scripts.
document.getElementById("form-post").submit();
