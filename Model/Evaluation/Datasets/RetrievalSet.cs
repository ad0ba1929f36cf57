namespace Platform.Model.Evaluation.Datasets;

/// <summary>
/// A caption-based retrieval set (the COCO 5k / Flickr30k 1k test protocol): the images of a
/// split and all their captions as the text gallery; Texts[t] describes Images[TextImage[t]].
/// </summary>
public sealed record RetrievalSet(IReadOnlyList<CocoImage> Images, IReadOnlyList<string> Texts, IReadOnlyList<int> TextImage)
{
    /// <param name="captionsPerImage">Keep the first this many captions of each image (5 in the standard protocol); null keeps all.</param>
    public static RetrievalSet FromCaptions(CaptionDataset dataset, int? captionsPerImage = 5)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var images = new List<CocoImage>();
        var texts = new List<string>();
        var textImage = new List<int>();
        foreach (var image in dataset.Images)
        {
            if (!dataset.Captions.TryGetValue(image.Id, out var captions) || captions.Count == 0)
                continue;
            var index = images.Count;
            images.Add(image);
            foreach (var caption in captionsPerImage is { } limit ? captions.Take(limit) : captions)
            {
                texts.Add(caption);
                textImage.Add(index);
            }
        }
        return new RetrievalSet(images, texts, textImage);
    }
}
