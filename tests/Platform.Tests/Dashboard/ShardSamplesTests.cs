using Platform.Dashboard.Services;
using Platform.Datasets;

namespace Platform.Tests.Dashboard;

/// <summary>The sample grid's tar reading: offsets from the headers, and only exact image ranges accepted.</summary>
public sealed class ShardSamplesTests
{
    [Fact]
    public async Task Each_sample_image_offset_and_length_are_exactly_its_jpg_file_inside_the_tar()
    {
        var images = Enumerable.Range(0, 5).Select(i => Enumerable.Range(0, 700 + 300 * i).Select(b => (byte)(b * (i + 3))).ToArray()).ToList();
        var tar = new MemoryStream();
        await using (var writer = new WebDatasetShardWriter(tar))
            for (var i = 0; i < images.Count; i++)
                await writer.WriteSampleAsync(new SampleRecord { Key = $"k{i}", Caption = $"caption {i}", Url = $"https://example.com/{i}.jpg", Status = SampleStatus.Success, Width = 10 + i, Height = 20 },
                    images[i], TestContext.Current.CancellationToken);

        tar.Position = 0;
        var page = ShardSamples.Read(tar, skip: 1, take: 3, search: null);
        Assert.Equal(["k1", "k2", "k3"], page.Samples.Select(s => s.Key));
        Assert.True(page.More);
        foreach (var sample in page.Samples)
        {
            var index = int.Parse(sample.Key[1..]);
            Assert.Equal($"caption {index}", sample.Caption);
            Assert.Equal($"https://example.com/{index}.jpg", sample.PageUrl);
            Assert.Equal(10 + index, sample.Width);
            Assert.Equal(images[index].Length, sample.ImageBytes);
            Assert.Equal(images[index], tar.ToArray().AsSpan((int)sample.ImageOffset, (int)sample.ImageBytes).ToArray());
            Assert.True(ShardSamples.IsImageEntry(tar, sample.ImageOffset, sample.ImageBytes));
            Assert.False(ShardSamples.IsImageEntry(tar, sample.ImageOffset, sample.ImageBytes - 1));
            Assert.False(ShardSamples.IsImageEntry(tar, sample.ImageOffset + 512, sample.ImageBytes));
        }

        tar.Position = 0;
        var found = ShardSamples.Read(tar, skip: 0, take: 10, search: "CAPTION 4");
        Assert.Equal(["k4"], found.Samples.Select(s => s.Key));
        Assert.False(found.More);
    }
}
