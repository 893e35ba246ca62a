! Fortran: formatted output, arrays, intrinsics.
program hermit_fortran
  implicit none
  integer :: i
  real(8) :: x(10), total
  do i = 1, 10
     x(i) = sqrt(real(i, 8))
  end do
  total = sum(x)
  write(*, '(A, F12.6)') 'sum of sqrt(1..10) = ', total
  write(*, '(A, I0)') 'integers: ', product([(i, i = 1, 5)])
  stop 3
end program hermit_fortran
