// What `glmv preprocess` writes for each kind of input: the tensors the model would receive, as .npy files to
// compare with the reference processor's, and a summary.json describing how they were made.
//
//   image: pixel_values.npy  float32 [patches, 1176]    image_grid_thw.npy int64 [1, 3]
//   video: pixel_values.npy  float32 [patches, 1176]    video_grid_thw.npy int64 [1, 3]
//          frame_indices.npy int64 [frames]              the sampled frames, in the file's numbering
//          timestamps.npy    float64 [frames]            each sampled frame's stream time, seconds
//          prompt_timestamps.npy int64 [frames / 2]      the integer second the prompt writes per frame pair
//   pdf:   pixel_values.npy  float32 [patches, 1176]    all pages concatenated in page order, as the model
//          image_grid_thw.npy int64 [pages, 3]           takes several images; page_numbers.npy int64 [pages]
// Each returns the one-line summary the command prints.
#pragma once

#include <filesystem>
#include <string>

#include "io/status.h"
#include "lib/media/image_inputs.h"
#include "lib/media/pdf_inputs.h"
#include "lib/media/video_inputs.h"
#include "lib/prompt/pdf_request.h"

namespace glmv::app {

Result<std::string> WriteImageOutputs(const std::filesystem::path& dir, const LoadedImage& image);
Result<std::string> WriteVideoOutputs(const std::filesystem::path& dir, const LoadedVideo& video);
// `request` holds the pages of `pdf` preprocessed (MakePdfRequest over every page).
Result<std::string> WritePdfOutputs(const std::filesystem::path& dir, const LoadedPdf& pdf, const PdfRequest& request);

}  // namespace glmv::app
