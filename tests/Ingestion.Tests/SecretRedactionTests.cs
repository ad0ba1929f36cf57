using CsCheck;
using Platform.Datasets;
using Platform.Ingestion.Units;

namespace Platform.Ingestion.Tests;

public class SecretRedactionTests
{
    private const string Sas = "sv=2025-01-05&se=2026-12-31T00%3A00%3A00Z&sr=c&sp=rl&sig=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA%3D%3D";

    [Fact]
    public void A_blob_url_keeps_its_path_and_loses_its_sas_token()
    {
        Assert.Equal("http://127.0.0.1:10000/devstoreaccount1/crawls/in/a.warc.gz?REDACTED",
            SecretRedaction.RedactUrl($"http://127.0.0.1:10000/devstoreaccount1/crawls/in/a.warc.gz?{Sas}"));
        Assert.Equal("https://acct.blob.core.windows.net/c/p?REDACTED#part", SecretRedaction.RedactUrl($"https://acct.blob.core.windows.net/c/p?{Sas}#part"));
        Assert.Equal("/data/dumps/a?b.warc.gz", SecretRedaction.RedactUrl("/data/dumps/a?b.warc.gz"));
        Assert.Equal("https://acct.blob.core.windows.net/c/p", SecretRedaction.RedactUrl("https://acct.blob.core.windows.net/c/p"));
    }

    [Fact]
    public void Every_url_in_a_message_loses_its_query_and_the_rest_of_the_message_stays()
    {
        var message = $"Input not found: 'https://a.example/c/x.warc.gz?{Sas}' (BlobNotFound); also <http://b.example/y?{Sas}>, then /local/file?.gz";

        Assert.Equal("Input not found: 'https://a.example/c/x.warc.gz?REDACTED' (BlobNotFound); also <http://b.example/y?REDACTED>, then /local/file?.gz",
            SecretRedaction.RedactUrlsIn(message));
    }

    private static Gen<string> Pick(params string[] choices) => Gen.Int[0, choices.Length - 1].Select(i => choices[i]);

    [Fact]
    public void No_signature_survives_redaction_wherever_the_url_stands_in_the_text()
    {
        var words = Pick("error", "at", "'", "\"", "(", ")", " ", "\n", "file?", "/tmp/a", "http://", "https://x/");
        Gen.Select(words.Array[0, 8], Pick("http", "https", "HTTPS"), Gen.String[Gen.Char["abcdefghij/.-_"], 1, 20], words.Array[0, 8])
            .Sample((before, scheme, path, after) =>
            {
                var secret = $"{scheme}://host.example/{path}?{Sas}";
                // Glued to the text before it, the URL would be part of whatever that text ends with (redacting more is safe);
                // apart, it keeps its path.
                var glued = SecretRedaction.RedactUrlsIn(string.Concat(before) + secret + string.Concat(after));
                Assert.DoesNotContain("sig=", glued);
                var redacted = SecretRedaction.RedactUrlsIn(string.Join(' ', before) + " " + secret + " " + string.Join(' ', after));
                Assert.DoesNotContain("sig=", redacted);
                Assert.Contains($"{scheme}://host.example/{path}?REDACTED", redacted);
            }, iter: 500);
    }

    [Fact]
    public void A_unit_of_a_blob_input_describes_itself_without_the_token()
    {
        var unit = new InputUnit($"https://acct.example/c/dump.warc.gz?{Sas}", 0, 1024);

        Assert.Equal("https://acct.example/c/dump.warc.gz?REDACTED [0, 1024)", unit.ToString());
        Assert.Contains("sig=", unit.Input);
    }
}
