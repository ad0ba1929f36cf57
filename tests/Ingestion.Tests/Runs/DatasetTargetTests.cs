using Platform.Datasets;
using Xunit;

namespace Platform.Ingestion.Tests.Runs;

public sealed class DatasetTargetTests
{
    [Theory]
    [InlineData("https://acct.blob.core.windows.net/data", "https://acct.blob.core.windows.net/", "data", "")]
    [InlineData("https://acct.blob.core.windows.net/data/web/2024/", "https://acct.blob.core.windows.net/", "data", "web/2024")]
    [InlineData("http://127.0.0.1:10000/devstoreaccount1/data/web", "http://127.0.0.1:10000/devstoreaccount1", "data", "web")]
    public void A_blob_url_splits_into_container_and_prefix_below_the_account_endpoint(string url, string endpoint, string container, string prefix) =>
        Assert.Equal((container, prefix), DatasetTarget.SplitContainerAndPrefix(new Uri(url), new Uri(endpoint)));

    [Theory]
    [InlineData("https://other.blob.core.windows.net/data", "https://acct.blob.core.windows.net/")]
    [InlineData("http://127.0.0.1:10000/otheraccount/data", "http://127.0.0.1:10000/devstoreaccount1")]
    [InlineData("https://acct.blob.core.windows.net/", "https://acct.blob.core.windows.net/")]
    public void A_blob_url_outside_the_account_or_without_a_container_is_refused(string url, string endpoint) =>
        Assert.Throws<ArgumentException>(() => DatasetTarget.SplitContainerAndPrefix(new Uri(url), new Uri(endpoint)));

    [Fact]
    public async Task A_blob_url_without_credentials_is_refused_and_a_path_is_a_local_folder()
    {
        var ct = TestContext.Current.CancellationToken;
        await Assert.ThrowsAsync<ArgumentException>(() => DatasetTarget.OpenAsync("https://acct.blob.core.windows.net/data", null, ct));
        var folder = Path.Combine(Path.GetTempPath(), $"target-{Guid.NewGuid():N}");
        try
        {
            Assert.IsType<LocalDatasetFolder>(await DatasetTarget.OpenAsync(folder, null, ct));
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }
}
