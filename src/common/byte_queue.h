#ifndef STRAIT_COMMON_BYTE_QUEUE_H_
#define STRAIT_COMMON_BYTE_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

namespace strait {

// A FIFO of bytes kept as a chain of chunks, so appending never moves what is
// already queued. Not thread-safe: owned by one object on one thread.
class ByteQueue {
 public:
  void Append(const uint8_t* data, size_t length) {
    if (length == 0) return;
    // Top up the last chunk while it is small, so many tiny DATA frames do not
    // become many allocations.
    if (!chunks_.empty() && chunks_.back().size() < kCoalesceBelow) {
      chunks_.back().append(reinterpret_cast<const char*>(data), length);
    } else {
      chunks_.emplace_back(reinterpret_cast<const char*>(data), length);
    }
    size_ += length;
  }

  // Appends up to `max` bytes to `out` and drops them; returns the count.
  size_t ReadInto(std::string* out, size_t max) {
    size_t copied = 0;
    while (copied < max && !chunks_.empty()) {
      std::string& front = chunks_.front();
      size_t n = std::min(max - copied, front.size() - offset_);
      out->append(front, offset_, n);
      copied += n;
      offset_ += n;
      if (offset_ == front.size()) {
        chunks_.pop_front();
        offset_ = 0;
      }
    }
    size_ -= copied;
    return copied;
  }

  // Puts everything in `front` before what is queued here.
  void Prepend(ByteQueue&& front) {
    if (front.offset_ > 0 && !front.chunks_.empty()) {
      front.chunks_.front().erase(0, front.offset_);
    }
    for (auto it = front.chunks_.rbegin(); it != front.chunks_.rend(); ++it) {
      if (offset_ > 0 && !chunks_.empty()) {
        chunks_.front().erase(0, offset_);
        offset_ = 0;
      }
      chunks_.push_front(std::move(*it));
    }
    size_ += front.size_;
    front.chunks_.clear();
    front.offset_ = 0;
    front.size_ = 0;
  }

  void Clear() {
    chunks_.clear();
    offset_ = 0;
    size_ = 0;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  static constexpr size_t kCoalesceBelow = 4096;
  std::deque<std::string> chunks_;
  size_t offset_ = 0;  // bytes of chunks_.front() already read
  size_t size_ = 0;
};

}  // namespace strait

#endif  // STRAIT_COMMON_BYTE_QUEUE_H_
